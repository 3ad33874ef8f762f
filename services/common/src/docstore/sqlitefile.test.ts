import { expect } from 'chai';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { groupCommitOf } from './groupcommit.ts';
import { openSqliteFile } from './sqlitefile.ts';
import { sqliteStats } from './sqlitestats.ts';

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('embedded SQLite file: the write-ahead log under steady writes', function () {
  this.timeout(30_000);
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'parley-wal-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** Writes without a pause for `ms` (a commit every few ms), returning the log's largest size. */
  async function writeSteadily(restartFrames: number, ms: number): Promise<{ rows: number; maxWal: number }> {
    const path = join(dir, `steady-${restartFrames}.db`);
    const file = openSqliteFile({ path, checkpointIntervalMs: 20, restartFrames });
    const { db } = file;
    db.exec('CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v BLOB NOT NULL)');
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    const group = groupCommitOf(db);
    let rows = 0;
    let maxWal = 0;
    const end = Date.now() + ms;
    while (Date.now() < end) {
      group.write(() => {
        for (let i = 0; i < 4; i++) insert.run(randomBytes(2000));
      });
      rows += 4;
      await turn();
      maxWal = Math.max(maxWal, statSync(`${path}-wal`).size);
    }
    await group.committed();
    await file.release();
    const check = new Database(path, { readonly: true });
    try {
      expect(check.pragma('integrity_check', { simple: true })).to.equal('ok');
      expect((check.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n).to.equal(rows);
    } finally {
      check.close();
    }
    return { rows, maxWal };
  }

  it('starts the log over once it passes its limit, under writes that never pause', async () => {
    // A limit of 64 frames (256 KiB). How far past it the log gets depends on how much is written
    // while a pass runs; without the writer's catch-up it held everything ever written (see
    // catchUp: 413 MB of 413 MB on this test's first run).
    const before = sqliteStats.walCatchUps;
    const { rows, maxWal } = await writeSteadily(64, 1500);
    expect(
      sqliteStats.walCatchUps - before,
      'the writer caught up (parley_sqlite_wal_catchups_total)',
    ).to.be.above(0);
    const written = rows * 2000;
    expect(written).to.be.greaterThan(20_000_000);
    expect(maxWal, `log of ${maxWal} bytes after ${written} written`).to.be.lessThan(written / 5);
  });
});
