import { authModule } from '@parley/auth';
import type { Infer, Running } from '@parley/common';
import { runService } from '@parley/common/service';
import { mediaModule, messageApiModule, messageNotifierModule, messageWorkerModule } from '@parley/message';
import { standaloneSettings } from './config.ts';

type Cfg = Infer<typeof standaloneSettings>;

/** Runs auth + message api + worker + notifier + media in one process on one port (embedded mode). */
export function runStandalone(env: NodeJS.ProcessEnv = process.env): Promise<Running> {
  return runService({
    name: 'parley',
    spec: standaloneSettings,
    env,
    modules: () => [
      authModule<Cfg>(),
      messageApiModule<Cfg>(),
      messageWorkerModule<Cfg>(),
      messageNotifierModule<Cfg>(),
      mediaModule<Cfg>(),
    ],
  });
}
