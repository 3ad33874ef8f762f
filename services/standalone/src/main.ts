import { main } from '@parley/common';
import { authModule } from '@parley/auth';
import { messageApiModule, messageWorkerModule } from '@parley/message';
import { standaloneSettings } from './config.ts';

await main({
  name: 'parley',
  spec: standaloneSettings,
  modules: () => [authModule(), messageApiModule(), messageWorkerModule()],
});
