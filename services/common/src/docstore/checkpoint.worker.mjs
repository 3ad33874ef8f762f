// The embedded SQLite file's checkpointer, in a worker thread (see SqliteDocumentStore): it copies
// the write-ahead log into the database file every `intervalMs`, so the fsyncs a checkpoint needs
// never block the main thread's event loop. PASSIVE never waits for (or blocks) the writer.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const db = new Database(workerData.path);
db.pragma('busy_timeout = 1000');
const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (err) {
    parentPort.postMessage({ error: String(err) });
  }
}, workerData.intervalMs);

parentPort.once('message', () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
