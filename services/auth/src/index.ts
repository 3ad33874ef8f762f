export { authSettings } from './config.ts';
export { authModule } from './module.ts';
