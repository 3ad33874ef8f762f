import { commonSettings, field, parse } from '@parley/common';

/** The message service's settings. One image runs either role. */
export const messageSettings = {
  ...commonSettings,
  role: field(parse.oneOf(['api', 'worker']), {
    env: 'ROLE',
    default: 'api',
    doc: 'Message service role: `api` (REST + WebSocket gateway) or `worker` (Kafka persister).',
  }),
};
