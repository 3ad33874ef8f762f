import { expect } from 'chai';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { groupCommitOf } from '../docstore/groupcommit.ts';
import { waitFor } from '../retry.ts';
import { OFFSET_FLUSH_MS } from './appender.ts';
import { eventLogContract } from './contract.ts';
import { EmbeddedEventLog } from './embedded.ts';
import { assignPartitions, partitionFor } from './port.ts';
import type { PartitionTail } from './tail.ts';

eventLogContract(
  'embedded (SQLite-backed, in-process)',
  async (metrics) => new EmbeddedEventLog({ db: ':memory:', metrics }),
);

describe('EmbeddedEventLog durability', () => {
  it('keeps acknowledged records and committed offsets across a restart of the process', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-log-'));
    try {
      const path = join(dir, 'log.db');
      const first = new EmbeddedEventLog({ db: path });
      await first.ensureTopics([{ name: 'chat.messages', partitions: 2 }]);
      await first.produce('chat.messages', [
        { key: 'a', value: '1' },
        { key: 'b', value: '2' },
      ]);
      await first.close();
      const second = new EmbeddedEventLog({ db: path });
      const seen: string[] = [];
      const sub = await second.subscribe({
        groupId: 'g',
        topics: ['chat.messages'],
        fromBeginning: true,
        handler: async (b) => void seen.push(...b.map((r) => r.value.toString())),
      });
      await waitFor(() => seen.length === 2);
      expect(seen.sort()).to.deep.equal(['1', '2']);
      await sub.stop();
      await second.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads and appends to a file whose records table is clustered by key, as before the rowid layout', async () => {
    const db = new Database(':memory:');
    db.exec(`CREATE TABLE ev_records (
        topic TEXT NOT NULL, partition INTEGER NOT NULL, offset INTEGER NOT NULL,
        key TEXT NOT NULL, value BLOB NOT NULL, headers TEXT NOT NULL, ts INTEGER NOT NULL,
        PRIMARY KEY (topic, partition, offset)) WITHOUT ROWID`);
    db.prepare('INSERT INTO ev_records VALUES (?, ?, ?, ?, ?, ?, ?)').run(
      't',
      0,
      0,
      'a',
      Buffer.from('old'),
      '{}',
      1,
    );
    const log = new EmbeddedEventLog({ db });
    await log.ensureTopics([{ name: 't', partitions: 1 }]);
    await log.produce('t', [{ key: 'a', value: 'new' }]);
    const seen: string[] = [];
    const sub = await log.subscribe({
      groupId: 'g',
      topics: ['t'],
      fromBeginning: true,
      handler: async (b) => void seen.push(...b.map((r) => `${r.offset}:${r.value.toString()}`)),
    });
    await waitFor(() => seen.length === 2);
    expect(seen).to.deep.equal(['0:old', '1:new']);
    await sub.stop();
    await log.close();
    db.close();
  });
});

describe('EmbeddedEventLog offsets', () => {
  const withLog = async (fn: (path: string) => Promise<void>) => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-log-'));
    try {
      await fn(join(dir, 'log.db'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  /** Partition 0's offset on file, as another process would read it (-1: none). */
  const onFile = (path: string): number => {
    const db = new Database(path, { readonly: true });
    try {
      const row = db.prepare("SELECT offset FROM ev_offsets WHERE group_id = 'g' AND partition = 0").get();
      return (row as { offset: number } | undefined)?.offset ?? -1;
    } finally {
      db.close();
    }
  };
  const consume = async (log: EmbeddedEventLog, seen: string[]) =>
    log.subscribe({
      groupId: 'g',
      topics: ['t'],
      fromBeginning: true,
      handler: async (b) => void seen.push(...b.map((r) => r.value.toString())),
    });

  /** A log on `path` whose group `g` has just handled one record of topic `t`. */
  const consumedOne = async (path: string) => {
    const log = new EmbeddedEventLog({ db: path });
    await log.ensureTopics([{ name: 't', partitions: 1 }]);
    await log.produce('t', [{ key: 'a', value: '1' }]);
    const seen: string[] = [];
    const sub = await consume(log, seen);
    await waitFor(() => seen.length === 1);
    return { log, seen, sub };
  };

  it('writes an offset with no commit of its own at once, but within OFFSET_FLUSH_MS', async () => {
    await withLog(async (path) => {
      const { log, sub } = await consumedOne(path);
      // This process's consumers see it at once; the file a little later.
      expect((await log.committedOffsets('g', 't')).get(0)).to.equal(1n);
      expect(onFile(path)).to.be.lessThan(1);
      const t0 = Date.now();
      await waitFor(() => onFile(path) === 1, { timeoutMs: 5_000, intervalMs: 10 });
      expect(Date.now() - t0).to.be.lessThan(OFFSET_FLUSH_MS * 5);
      expect(onFile(path)).to.equal(1);
      await sub.stop();
      await log.close();
    });
  });

  it('writes a group’s offsets at most once per OFFSET_FLUSH_MS, however many commits come', async () => {
    await withLog(async (path) => {
      const { log, seen, sub } = await consumedOne(path);
      await log.produce('t', [{ key: 'a', value: '2' }]);
      const written = performance.now();
      expect(onFile(path), 'the first offset rides the next commit').to.equal(1);
      await waitFor(() => seen.length === 2);
      // Handled, and another commit comes at once: the new offset waits for the interval.
      await log.produce('t', [{ key: 'a', value: '3' }]);
      const held = onFile(path);
      if (performance.now() - written < OFFSET_FLUSH_MS) expect(held, 'held within the interval').to.equal(1);
      await waitFor(() => seen.length === 3);
      await waitFor(() => onFile(path) === 3, { timeoutMs: OFFSET_FLUSH_MS * 5, intervalMs: 10 });
      await sub.stop();
      await log.close();
    });
  });

  it('rides the next commit of other writes, and close() writes what is held', async () => {
    await withLog(async (path) => {
      const { log, seen, sub } = await consumedOne(path);
      expect(onFile(path)).to.be.lessThan(1);
      // An append commits: the held offset goes with it.
      await log.produce('t', [{ key: 'a', value: '2' }]);
      expect(onFile(path)).to.equal(1);
      await waitFor(() => seen.length === 2);
      await sub.stop();
      await log.close();
      expect(onFile(path)).to.equal(2);
      // Reopened, nothing is delivered again.
      const again = new EmbeddedEventLog({ db: path });
      const later: string[] = [];
      const sub2 = await consume(again, later);
      // A record produced now arrives first: nothing before it came again.
      await again.produce('t', [{ key: 'a', value: '3' }]);
      await waitFor(() => later.length > 0);
      expect(later).to.deep.equal(['3']);
      await sub2.stop();
      await again.close();
    });
  });
});

describe('EmbeddedEventLog when a commit fails', () => {
  it('rejects the appends of a commit that failed before writing them, and takes later ones', async () => {
    const log = new EmbeddedEventLog({ db: ':memory:' });
    await log.ensureTopics([{ name: 't', partitions: 1 }]);
    // Another write of the same commit fails first (a full disk while writing offsets).
    const db = (log as unknown as { db: Database.Database }).db;
    groupCommitOf(db).atCommit(
      () => {
        throw new Error('database or disk is full');
      },
      () => undefined,
    );
    const failed = await log.produce('t', [{ key: 'a', value: '1' }]).catch((e: unknown) => e);
    expect(String(failed)).to.match(/disk is full/);
    await log.produce('t', [{ key: 'a', value: '2' }]);
    expect(await log.endOffsets('t')).to.deep.equal(new Map([[0, 1n]]));
    await log.close();
  });
});

describe('EmbeddedEventLog tail', () => {
  it('holds records in memory until every group reading them has committed them', async () => {
    const log = new EmbeddedEventLog({ db: ':memory:' });
    await log.ensureTopics([{ name: 't', partitions: 1 }]);
    const tail = () =>
      (log as unknown as { partitions: Map<string, PartitionTail> }).partitions.get('t\u00000')!;
    const fast: string[] = [];
    const slow: string[] = [];
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const subs = [
      await log.subscribe({
        groupId: 'fast',
        topics: ['t'],
        handler: async (b) => void fast.push(...b.map((r) => r.value.toString())),
      }),
      await log.subscribe({
        groupId: 'slow',
        topics: ['t'],
        handler: async (b) => {
          await gate;
          slow.push(...b.map((r) => r.value.toString()));
        },
      }),
    ];
    await log.produce(
      't',
      Array.from({ length: 10 }, (_, i) => ({ key: 'k', value: String(i) })),
    );
    await waitFor(() => fast.length === 10);
    // The slow group has not committed them: they stay, whatever the fast one did.
    expect(tail().read(0, 20)?.length).to.equal(10);
    open();
    await waitFor(() => slow.length === 10);
    await waitFor(() => tail().read(0, 1) === undefined);
    expect(tail().read(10, 1)).to.deep.equal([]);
    // A group that stopped no longer holds anything back; its next member resumes from the file.
    await subs[1]!.stop();
    await log.produce('t', [{ key: 'k', value: '10' }]);
    await waitFor(() => fast.length === 11);
    await waitFor(() => tail().read(10, 1) === undefined);
    const again: string[] = [];
    subs.push(
      await log.subscribe({
        groupId: 'slow',
        topics: ['t'],
        handler: async (b) => void again.push(...b.map((r) => r.value.toString())),
      }),
    );
    await waitFor(() => again.length === 1);
    expect(again).to.deep.equal(['10']);
    expect(fast).to.deep.equal(slow.concat(['10']));
    for (const s of subs) await s.stop();
    await log.close();
  });
});

describe('partitioning', () => {
  it('maps a key to the same partition every time and spreads keys', () => {
    expect(partitionFor('conv-1', 8)).to.equal(partitionFor('conv-1', 8));
    const used = new Set(Array.from({ length: 100 }, (_, i) => partitionFor(`conv-${i}`, 8)));
    expect(used.size).to.equal(8);
  });

  it('assigns every partition to exactly one member, round-robin', () => {
    const plan = assignPartitions(['b', 'a'], [{ topic: 't', partitions: 3 }]);
    expect(plan.get('a')).to.deep.equal([
      { topic: 't', partition: 0 },
      { topic: 't', partition: 2 },
    ]);
    expect(plan.get('b')).to.deep.equal([{ topic: 't', partition: 1 }]);
  });
});
