export { standaloneSettings } from './config.ts';
export { runStandalone } from './app.ts';
