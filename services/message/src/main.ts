import { main } from '@parley/common/service';
import { messageSettings } from './config.ts';
import { mediaModule } from './media/module.ts';
import { messageApiModule, messageWorkerModule } from './module.ts';
import { messageNotifierModule } from './notifications.ts';

await main({
  name: 'parley-message',
  spec: messageSettings,
  modules: (cfg) => [
    cfg.role === 'api'
      ? messageApiModule()
      : cfg.role === 'worker'
        ? messageWorkerModule()
        : cfg.role === 'media'
          ? mediaModule()
          : messageNotifierModule(),
  ],
});
