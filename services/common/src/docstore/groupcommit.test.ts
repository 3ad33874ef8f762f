import { expect } from 'chai';
import Database from 'better-sqlite3';
import { COMMIT_SPACING_MS, GroupCommit } from './groupcommit.ts';
import { sqliteStats } from './sqlitestats.ts';

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('GroupCommit (embedded SQLite: one commit per turn of the event loop)', () => {
  let db: Database.Database;
  let group: GroupCommit;
  const rows = () => (db.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n;
  const insert = (v: number) => group.write(() => db.prepare('INSERT INTO t (v) VALUES (?)').run(v));

  beforeEach(() => {
    db = new Database(':memory:');
    db.exec('CREATE TABLE t (v INTEGER PRIMARY KEY)');
    group = new GroupCommit(db);
  });
  afterEach(() => db.close());

  it("commits a turn's writes together, once, at the end of the turn", async () => {
    const commits = sqliteStats.commits;
    for (let i = 0; i < 10; i++) insert(i);
    expect(db.inTransaction, 'open until the turn ends').to.equal(true);
    expect(rows(), 'later reads see the writes at once').to.equal(10);
    await turn();
    expect(db.inTransaction).to.equal(false);
    expect(sqliteStats.commits - commits).to.equal(1);
  });

  it('keeps each write atomic: one that throws leaves nothing, the others commit', async () => {
    insert(1);
    expect(() =>
      group.write(() => {
        db.prepare('INSERT INTO t (v) VALUES (?)').run(2);
        db.prepare('INSERT INTO t (v) VALUES (?)').run(1); // duplicate: throws
      }),
    ).to.throw(/UNIQUE/);
    insert(3);
    await group.committed();
    expect(db.prepare('SELECT v FROM t ORDER BY v').pluck().all()).to.deep.equal([1, 3]);
  });

  it('nests writes: an inner write that throws undoes only itself, an outer one that throws undoes both', async () => {
    group.write(() => {
      insert(1);
      expect(() => group.write(() => (insert(2), insert(1)))).to.throw(/UNIQUE/);
      insert(3);
    });
    expect(() =>
      group.write(() => {
        insert(4);
        throw new Error('outer fails after its inner write');
      }),
    ).to.throw(/outer fails/);
    insert(5);
    expect(db.inTransaction, 'the turn’s transaction stays open').to.equal(true);
    await group.committed();
    expect(db.prepare('SELECT v FROM t ORDER BY v').pluck().all()).to.deep.equal([1, 3, 5]);
  });

  it('writeOne: a single statement that throws midway leaves nothing (SQLite makes it atomic), and joins the turn', async () => {
    const commits = sqliteStats.commits;
    group.writeOne(() => db.prepare('INSERT INTO t (v) VALUES (1), (2)').run());
    // Rows 3 and 4 go in before 1 collides: the statement's own journal takes them out again.
    expect(() => group.writeOne(() => db.prepare('INSERT INTO t (v) VALUES (3), (4), (1)').run())).to.throw(
      /UNIQUE/,
    );
    expect(group.writeOne(() => db.prepare('DELETE FROM t WHERE v = 2').run().changes)).to.equal(1);
    expect(db.inTransaction, 'inside the turn’s transaction').to.equal(true);
    await group.committed();
    expect(db.prepare('SELECT v FROM t ORDER BY v').pluck().all()).to.deep.equal([1]);
    expect(sqliteStats.commits - commits).to.equal(1);
    // In a transaction the caller opened itself, it runs there.
    db.transaction(() => group.writeOne(() => db.prepare('INSERT INTO t (v) VALUES (5)').run()))();
    expect(db.inTransaction).to.equal(false);
    expect(rows()).to.equal(2);
  });

  it('resolves committed() only after the commit, and at once when nothing is pending', async () => {
    const order: string[] = [];
    await group.committed().then(() => order.push('nothing pending'));
    insert(1);
    const done = group.committed().then(() => order.push(`committed, open=${db.inTransaction}`));
    order.push('written');
    await done;
    expect(order).to.deep.equal(['nothing pending', 'written', 'committed, open=false']);
  });

  it('runs before-commit hooks inside the transaction and after-commit hooks once it is done', async () => {
    const seen: string[] = [];
    group.atCommit(
      () => {
        seen.push(`before, open=${db.inTransaction}`);
        group.write(() => db.prepare('INSERT INTO t (v) VALUES (7)').run());
      },
      (err) => seen.push(`after, err=${String(err)}, rows=${rows()}, open=${db.inTransaction}`),
    );
    await turn();
    expect(seen).to.deep.equal(['before, open=true', 'after, err=undefined, rows=1, open=false']);
  });

  it('nests in a transaction the caller opened itself, which then commits the write', () => {
    db.transaction(() => insert(1))();
    expect(db.inTransaction).to.equal(false);
    expect(rows()).to.equal(1);
  });

  it('on a failed commit rolls the turn back, rejects its waiters and tells the listeners', async () => {
    // A deferred foreign key is checked at COMMIT: a real commit failure.
    db.pragma('foreign_keys = ON');
    db.exec('CREATE TABLE child (p INTEGER REFERENCES t (v) DEFERRABLE INITIALLY DEFERRED)');
    const failures: unknown[] = [];
    group.onFailure((err) => failures.push(err));
    insert(1);
    group.write(() => db.prepare('INSERT INTO child (p) VALUES (42)').run());
    const err = await group.committed().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(String(err)).to.match(/FOREIGN KEY/);
    expect(failures).to.have.length(1);
    expect(db.inTransaction).to.equal(false);
    expect(rows(), 'the whole turn rolled back').to.equal(0);
    // The next turn starts afresh.
    insert(2);
    await group.committed();
    expect(rows()).to.equal(1);
  });

  it('spaces commits: writes soon after a commit share the next one, a quiet handle commits in its turn', async () => {
    expect(COMMIT_SPACING_MS, 'the default spacing').to.be.within(1, 10);
    // A wide spacing here, so a slow machine's turns cannot outlast it.
    const spacing = 150;
    group = new GroupCommit(db, spacing);
    const commits = sqliteStats.commits;
    insert(1);
    await turn();
    expect(sqliteStats.commits - commits, 'the first commit does not wait').to.equal(1);
    const since = performance.now();
    insert(2);
    await turn();
    insert(3);
    await turn();
    expect(db.inTransaction, 'within the spacing the transaction stays open across turns').to.equal(true);
    await group.committed();
    expect(performance.now() - since).to.be.at.least(spacing - 5);
    expect(sqliteStats.commits - commits, 'two turns, one commit').to.equal(2);
    await new Promise((resolve) => setTimeout(resolve, spacing + 5));
    insert(4);
    await turn();
    expect(db.inTransaction, 'past the spacing, committed in its turn').to.equal(false);
    expect(sqliteStats.commits - commits).to.equal(3);
    expect(rows()).to.equal(4);
  });
});
