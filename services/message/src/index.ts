export { messageSettings } from './config.ts';
export { messageApiAndWorkerModules, messageApiModule, messageWorkerModule } from './module.ts';
export { messageNotifierModule } from './notifications.ts';
export { mediaModule } from './media/module.ts';
