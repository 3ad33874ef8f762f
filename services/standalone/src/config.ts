import { authSettings } from '@parley/auth';
import { messageSettings } from '@parley/message';

/** Embedded mode hosts every module in one process, so it takes every service's settings. */
export const standaloneSettings = (() => {
  const { role: _role, ...message } = messageSettings;
  return { ...authSettings, ...message };
})();
