import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Running } from '@parley/common';
import { TestSocket } from '@parley/common/testing';
import { runStandalone } from './app.ts';

export { restClient, type Json, type User } from '@parley/common/testing';

/**
 * An embedded Parley on free loopback ports, silent, with its data in a fresh temporary directory
 * (`env` adds or overrides settings), once ready. `stop` stops it and removes the directory.
 */
export async function startEmbedded(
  name: string,
  env: Record<string, string> = {},
): Promise<{ running: Running; dir: string; stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), `parley-${name}-`));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  let running: Running;
  try {
    running = await runStandalone({
      PORT: '0',
      MANAGEMENT_PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dir,
      LOG_LEVEL: 'silent',
      ...env,
    });
    await running.ready;
  } catch (err) {
    remove();
    throw err;
  }
  return {
    running,
    dir,
    stop: async () => {
      await running.stop('test');
      remove();
    },
  };
}

/** Sockets opened by a test, terminated together afterwards. */
export class SocketPool {
  readonly sockets: TestSocket[] = [];
  constructor(private readonly base: () => string) {}

  async connect(u: { token: string }): Promise<TestSocket> {
    const s = await TestSocket.bearer(this.base(), u.token);
    this.sockets.push(s);
    return s;
  }

  closeAll(): void {
    for (const s of this.sockets.splice(0)) s.ws.terminate();
  }
}
