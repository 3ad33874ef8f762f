// The embedded SQLite file's checkpointer, in a worker thread (see SqliteDocumentStore): it copies
// the write-ahead log into the database file every `intervalMs`, so the fsyncs a checkpoint needs
// never block the main thread's event loop. PASSIVE never waits for (or blocks) the writer. After
// each pass it tells the main thread how far it got and how long that took ({ log, checkpointed,
// ms }; log and checkpointed in frames): under steady writes a pass never catches up with the
// log, which then could never start over (see catchUp in sqlitefile.ts). Past `restartFrames`
// the passes follow each other `convergeMs` apart: each copies what came during the last, so
// they shorten, and what the writer is left to copy itself is a few ms of writes.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const db = new Database(workerData.path);
db.pragma('busy_timeout = 1000');
let timer;
let stopped = false;
// The writer has copied the rest: its next write starts the log over, unless a pass holds the
// log then; the next pass waits the whole interval.
let caughtUp = false;
const pass = () => {
  let next = workerData.intervalMs;
  try {
    const startedAt = Date.now();
    const started = performance.now();
    const [r] = db.pragma('wal_checkpoint(PASSIVE)');
    const ms = performance.now() - started;
    parentPort.postMessage({ log: r.log, checkpointed: r.checkpointed, ms, startedAt });
    if (r.log >= workerData.restartFrames && !caughtUp) next = Math.min(next, workerData.convergeMs);
    caughtUp = false;
  } catch (err) {
    parentPort.postMessage({ error: String(err) });
  }
  if (!stopped) timer = setTimeout(pass, next);
};
timer = setTimeout(pass, workerData.intervalMs);

parentPort.on('message', (m) => {
  if (m === 'caught-up') {
    caughtUp = true;
    clearTimeout(timer);
    timer = setTimeout(pass, workerData.intervalMs);
    return;
  }
  stopped = true;
  clearTimeout(timer);
  db.close();
  parentPort.close();
});
