import type { Infer } from '@parley/common';
import { main } from '@parley/common/service';
import { authModule } from '@parley/auth';
import { mediaModule, messageApiModule, messageNotifierModule, messageWorkerModule } from '@parley/message';
import { standaloneSettings } from './config.ts';

type Cfg = Infer<typeof standaloneSettings>;

await main({
  name: 'parley',
  spec: standaloneSettings,
  modules: () => [
    authModule<Cfg>(),
    messageApiModule<Cfg>(),
    messageWorkerModule<Cfg>(),
    messageNotifierModule<Cfg>(),
    mediaModule<Cfg>(),
  ],
});
