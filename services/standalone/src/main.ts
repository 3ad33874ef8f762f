import { main } from '@parley/common/service';
import { standaloneModules } from './app.ts';
import { standaloneSettings } from './config.ts';

await main({ name: 'parley', spec: standaloneSettings, modules: standaloneModules });
