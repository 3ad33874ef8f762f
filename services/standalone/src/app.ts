import { authModule } from '@parley/auth';
import type { Infer, Running, ServiceModule } from '@parley/common';
import { runService } from '@parley/common/service';
import {
  DirectCommands,
  mediaModule,
  messageApiModule,
  messageNotifierModule,
  messageWorkerModule,
} from '@parley/message';
import { standaloneSettings } from './config.ts';

type Cfg = Infer<typeof standaloneSettings>;

/** Auth + message api + worker + notifier + media: embedded mode's modules, for one run. */
export function standaloneModules(): ServiceModule<Cfg>[] {
  // The api hands sends to the worker in this process (over the embedded event log only).
  const direct = new DirectCommands();
  return [
    authModule<Cfg>(),
    messageApiModule<Cfg>({ direct }),
    messageWorkerModule<Cfg>({ direct }),
    messageNotifierModule<Cfg>(),
    mediaModule<Cfg>(),
  ];
}

/** Runs every module in one process on one port (embedded mode). */
export function runStandalone(env: NodeJS.ProcessEnv = process.env): Promise<Running> {
  return runService({ name: 'parley', spec: standaloneSettings, env, modules: standaloneModules });
}
