import { commonSettings } from '@parley/common';

/** The auth service's settings (grows with the domain in issue #3). */
export const authSettings = {
  ...commonSettings,
};
