import { authModule } from '@parley/auth';
import type { Infer, Running, ServiceModule } from '@parley/common';
import { runService } from '@parley/common/service';
import { mediaModule, messageApiAndWorkerModules, messageNotifierModule } from '@parley/message';
import { standaloneSettings } from './config.ts';

type Cfg = Infer<typeof standaloneSettings>;

/** Auth + message api + worker + notifier + media: embedded mode's modules, for one run. */
export function standaloneModules(): ServiceModule<Cfg>[] {
  return [
    authModule<Cfg>(),
    ...messageApiAndWorkerModules<Cfg>(),
    messageNotifierModule<Cfg>(),
    mediaModule<Cfg>(),
  ];
}

/** Runs every module in one process on one port (embedded mode). */
export function runStandalone(env: NodeJS.ProcessEnv = process.env): Promise<Running> {
  return runService({ name: 'parley', spec: standaloneSettings, env, modules: standaloneModules });
}
