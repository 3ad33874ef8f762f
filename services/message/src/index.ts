export { messageSettings } from './config.ts';
export { messageApiModule, messageWorkerModule } from './module.ts';
export { DirectCommands } from './worker/direct.ts';
export { messageNotifierModule } from './notifications.ts';
export { mediaModule } from './media/module.ts';
