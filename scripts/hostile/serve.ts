/**
 * Runs Parley in embedded mode on 127.0.0.1 for the hostile-input harnesses, with a temporary
 * DATA_DIR, and prints one JSON line `{"url": …, "managementUrl": …}` once ready. Extra settings come from the
 * environment (e.g. WS_MAX_PENDING_AUTH); SIGTERM/SIGINT stop it and remove the data.
 *
 *   node --import tsx scripts/hostile/serve.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runStandalone } from '../../services/standalone/src/app.ts';

const dir = mkdtempSync(join(tmpdir(), 'parley-hostile-'));
const running = await runStandalone({
  ...process.env,
  PORT: process.env.PORT ?? '0',
  MANAGEMENT_PORT: process.env.MANAGEMENT_PORT ?? '0',
  HOST: '127.0.0.1',
  DATA_DIR: dir,
  LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
  // The harnesses register many users and call fast; the limits themselves are tested elsewhere.
  RATE_LIMIT_PER_MINUTE: process.env.RATE_LIMIT_PER_MINUTE ?? '100000',
  SEND_RATE_PER_MINUTE: process.env.SEND_RATE_PER_MINUTE ?? '100000',
  RATE_LIMIT_REGISTER_PER_15MIN: process.env.RATE_LIMIT_REGISTER_PER_15MIN ?? '100000',
});
await running.ready;
console.log(JSON.stringify({ url: running.url, managementUrl: running.managementUrl }));
const stop = async (why: string) => {
  await running.stop(why);
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
};
process.once('SIGTERM', () => void stop('SIGTERM'));
process.once('SIGINT', () => void stop('SIGINT'));
