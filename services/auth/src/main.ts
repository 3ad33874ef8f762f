import { main } from '@parley/common/service';
import { authSettings } from './config.ts';
import { authModule } from './module.ts';

await main({ name: 'parley-auth', spec: authSettings, modules: () => [authModule()] });
