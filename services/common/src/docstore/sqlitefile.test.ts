import { expect } from 'chai';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { groupCommitOf } from './groupcommit.ts';
import { openSqliteFile } from './sqlitefile.ts';
import { sqliteStats } from './sqlitestats.ts';

const turn = () => new Promise((resolve) => setImmediate(resolve));

/**
 * The write-ahead log's checkpoint sequence number (bytes 12-15 of its header, big-endian), which
 * SQLite increments each time it starts the log over: the file's size cannot tell, since
 * journal_size_limit keeps the blocks and later generations write over them.
 */
function logGeneration(walPath: string): number {
  const header = Buffer.alloc(32);
  const fd = openSync(walPath, 'r');
  try {
    if (readSync(fd, header, 0, 32, 0) < 32) return -1;
  } finally {
    closeSync(fd);
  }
  return header.readUInt32BE(12);
}

describe('embedded SQLite file: the write-ahead log under steady writes', function () {
  this.timeout(60_000);
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'parley-wal-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('starts the log over once it passes its limit, under writes that never pause', async () => {
    // How far past its limit the log gets first depends on how much the writer commits while the
    // thread's passes run and their reports wait for this thread: wall-clock, so no size bound
    // holds on every machine (the log's file never shrinks, either: see RESTART_FRAMES). What
    // does hold: with a commit every few ms the thread alone never gets the log to start over (it
    // held all 413 MB ever written without catchUp), and with it the log starts over, again and
    // again. So this writes without a pause until it has, with a deadline only for failure.
    const limitFrames = 64;
    const restarts = 3;
    const deadlineMs = 15_000;
    const path = join(dir, 'steady.db');
    const before = sqliteStats.walCatchUps;
    const file = openSqliteFile({ path, checkpointIntervalMs: 20, restartFrames: limitFrames });
    const group = groupCommitOf(file.db);
    let rows = 0;
    let started = 0;
    try {
      file.db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB NOT NULL)');
      const insert = file.db.prepare('INSERT INTO t (v) VALUES (?)');
      const first = logGeneration(`${path}-wal`);
      const end = Date.now() + deadlineMs;
      while (started < restarts && Date.now() < end) {
        group.write(() => {
          for (let i = 0; i < 4; i++) insert.run(randomBytes(2000));
        });
        rows += 4;
        await turn();
        started = logGeneration(`${path}-wal`) - first;
      }
      const wal = statSync(`${path}-wal`).size;
      expect(
        started,
        `log started over ${started} times; ${rows * 2000} bytes written, log at ${wal}`,
      ).to.be.at.least(restarts);
      expect(
        sqliteStats.walCatchUps - before,
        'the writer caught up (parley_sqlite_wal_catchups_total)',
      ).to.be.above(0);
      // A catch-up happens only once a pass found the log at its limit.
      expect(wal).to.be.at.least(32 + limitFrames * (4096 + 24));
      await group.committed();
    } finally {
      await file.release();
    }
    const check = new Database(path, { readonly: true });
    try {
      expect(check.pragma('integrity_check', { simple: true })).to.equal('ok');
      expect((check.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n).to.equal(rows);
    } finally {
      check.close();
    }
  });
});
