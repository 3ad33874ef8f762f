// The embedded SQLite file's checkpointer, in a worker thread (see SqliteDocumentStore): it copies
// the write-ahead log into the database file every `intervalMs`, so the fsyncs a checkpoint needs
// never block the main thread's event loop. PASSIVE never waits for (or blocks) the writer. After
// each pass it tells the main thread how far it got ({ log, checkpointed }, in frames): under
// steady writes a pass never catches up with the log, which then could never start over (see
// catchUp in sqlitefile.ts).
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const db = new Database(workerData.path);
db.pragma('busy_timeout = 1000');
const timer = setInterval(() => {
  try {
    const [r] = db.pragma('wal_checkpoint(PASSIVE)');
    parentPort.postMessage({ log: r.log, checkpointed: r.checkpointed });
  } catch (err) {
    parentPort.postMessage({ error: String(err) });
  }
}, workerData.intervalMs);

parentPort.once('message', () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
