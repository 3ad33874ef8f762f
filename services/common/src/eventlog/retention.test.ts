import { expect } from 'chai';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { groupCommitOf } from '../docstore/groupcommit.ts';
import { waitFor } from '../retry.ts';
import { EmbeddedEventLog } from './embedded.ts';
import { partitionFor } from './port.ts';
import { Retention } from './retention.ts';

const HOUR = 3_600_000;

describe('EmbeddedEventLog retention (retention.ms)', () => {
  let dir: string;
  let path: string;
  let log: EmbeddedEventLog;
  let db: Database.Database;
  const now = Date.now();

  /** A key of partition `p` of 2. */
  const keyOf = (p: number) => {
    for (let i = 0; ; i++) if (partitionFor(`k${i}`, 2) === p) return `k${i}`;
  };
  const offsets = (p: number) =>
    db
      .prepare("SELECT offset FROM ev_records WHERE topic = 't' AND partition = ? ORDER BY offset")
      .pluck()
      .all(p);
  /** Appends `n` records to partition `p`, stamped `ageMs` ago. */
  const append = async (p: number, n: number, ageMs: number) => {
    const before = offsets(p).length;
    await log.produce(
      't',
      Array.from({ length: n }, (_, i) => ({ key: keyOf(p), value: `v${before + i}` })),
    );
    db.prepare("UPDATE ev_records SET ts = ? WHERE topic = 't' AND partition = ? AND offset >= ?").run(
      now - ageMs,
      p,
      before,
    );
  };
  const retention = (chunk?: number) =>
    new Retention(db, groupCommitOf(db), {
      retentionMs: 24 * HOUR,
      topics: () => new Map([['t', 2]]),
      now: () => now,
      ...(chunk ? { chunk } : {}),
    });

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-retention-'));
    path = join(dir, 'log.db');
    db = new Database(path);
    log = new EmbeddedEventLog({ db });
    await log.ensureTopics([{ name: 't', partitions: 2 }]);
  });
  afterEach(async () => {
    await log.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('removes the records older than the retention from the head of each partition, and keeps the rest', async () => {
    await append(0, 5, 48 * HOUR);
    await append(1, 4, 30 * HOUR);
    await append(0, 3, HOUR);
    await append(1, 2, 0);
    expect(await retention().pass()).to.deep.equal({ removed: 9, more: false });
    await groupCommitOf(db).committed();
    expect(offsets(0)).to.deep.equal([5, 6, 7]);
    expect(offsets(1)).to.deep.equal([4, 5]);
    expect(await retention().pass(), 'nothing more to do').to.deep.equal({ removed: 0, more: false });
  });

  it('keeps each partition’s last record, so offsets go on from it after a restart', async () => {
    await append(0, 4, 48 * HOUR);
    await retention().pass();
    await groupCommitOf(db).committed();
    expect(offsets(0)).to.deep.equal([3]);
    await log.close();
    log = new EmbeddedEventLog({ db });
    await log.produce('t', [{ key: keyOf(0), value: 'after' }]);
    expect(offsets(0)).to.deep.equal([3, 4]);
  });

  it('stops at the first record within the retention, even with older ones after it (a clock stepped back)', async () => {
    await append(0, 2, 48 * HOUR);
    await append(0, 1, HOUR);
    await append(0, 2, 48 * HOUR);
    await retention().pass();
    await groupCommitOf(db).committed();
    expect(offsets(0)).to.deep.equal([2, 3, 4]);
  });

  it('removes a chunk a statement and at most 20 a pass, and says when more is due', async () => {
    await append(0, 25, 48 * HOUR);
    await append(0, 1, 0);
    const r = retention(1);
    expect(await r.pass()).to.deep.equal({ removed: 20, more: true });
    expect(await r.pass()).to.deep.equal({ removed: 5, more: false });
    await groupCommitOf(db).committed();
    expect(offsets(0)).to.deep.equal([25]);
  });

  it('skips a partition’s last record however old, and goes on past it', async () => {
    await append(1, 1, 50 * HOUR);
    await append(0, 3, 48 * HOUR);
    await append(0, 1, 0);
    expect(await retention(2).pass()).to.deep.equal({ removed: 3, more: false });
    await groupCommitOf(db).committed();
    expect(offsets(1)).to.deep.equal([0]);
    expect(offsets(0)).to.deep.equal([3]);
  });

  it('trims a file whose records are clustered by key (before the rowid layout) a partition at a time', async () => {
    await log.close();
    db.exec('DROP TABLE ev_records');
    db.exec(`CREATE TABLE ev_records (
        topic TEXT NOT NULL, partition INTEGER NOT NULL, offset INTEGER NOT NULL,
        key TEXT NOT NULL, value BLOB NOT NULL, headers TEXT NOT NULL, ts INTEGER NOT NULL,
        PRIMARY KEY (topic, partition, offset)) WITHOUT ROWID`);
    log = new EmbeddedEventLog({ db });
    await append(0, 4, 48 * HOUR);
    await append(1, 3, 48 * HOUR);
    await append(1, 2, 0);
    expect(await retention(2).pass()).to.deep.equal({ removed: 4, more: true });
    expect(await retention(2).pass()).to.deep.equal({ removed: 2, more: false });
    await groupCommitOf(db).committed();
    expect(offsets(0)).to.deep.equal([3]);
    expect(offsets(1)).to.deep.equal([3, 4]);
  });

  it('lets a group behind the removed records go on from the oldest record kept, after a restart', async () => {
    await append(0, 6, 48 * HOUR);
    await append(0, 2, 0);
    await retention().pass();
    await groupCommitOf(db).committed();
    // A running log may still hand out of memory what was removed (records no group has
    // committed stay in its tail); a restarted one reads the file.
    await log.close();
    log = new EmbeddedEventLog({ db });
    const seen: string[] = [];
    const sub = await log.subscribe({
      groupId: 'late',
      topics: ['t'],
      fromBeginning: true,
      handler: async (b) => void seen.push(...b.map((r) => `${r.partition}/${r.offset}`)),
    });
    await waitFor(() => seen.length === 2);
    expect(seen).to.deep.equal(['0/6', '0/7']);
    await sub.stop();
  });

  it('runs on a timer in a log opened with retentionMs, and stops with it', async () => {
    await log.close();
    log = new EmbeddedEventLog({ db, retentionMs: HOUR, retentionIntervalMs: 20 });
    await append(0, 3, 2 * HOUR);
    await append(1, 2, 0);
    await waitFor(() => offsets(0).length === 1);
    expect(offsets(0)).to.deep.equal([2]);
    expect(offsets(1)).to.deep.equal([0, 1]);
    await log.close();
    db.prepare("UPDATE ev_records SET ts = ? WHERE topic = 't' AND partition = 1").run(now - 2 * HOUR);
    await new Promise((r) => setTimeout(r, 100));
    expect(offsets(1), 'closed: no pass removes anything').to.deep.equal([0, 1]);
  });

  it('stops for good when the shared handle is closed before the log', async () => {
    const shared = new Database(join(dir, 'shared.db'));
    const own = new EmbeddedEventLog({ db: shared, retentionMs: HOUR, retentionIntervalMs: 10 });
    await own.ensureTopics([{ name: 't', partitions: 2 }]);
    const r = (own as unknown as { retention: Retention }).retention;
    let passes = 0;
    const pass = r.pass.bind(r);
    r.pass = () => {
      passes++;
      return pass();
    };
    await waitFor(() => passes > 0);
    shared.close();
    const seen = passes;
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(passes, 'no pass once the handle is closed').to.be.at.most(seen + 1);
    expect((r as unknown as { stopped: boolean }).stopped).to.equal(true);
    await own.close();
  });
});
