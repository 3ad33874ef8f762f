import client from 'prom-client';
import type mongoose from 'mongoose';

/**
 * What the MongoDB-compatible server is asked: commands sent, by command and collection, for
 * every client passed to instrumentMongo (each MongoDocumentStore's). bench:cost divides them by
 * messages; /metrics exports them.
 */
export const mongoStats = new Map<string, number>();

const instrumented = new WeakSet<object>();

/** Counts the commands `mongo` sends (idempotent; needs `monitorCommands: true` on the client). */
export function instrumentMongo(mongo: mongoose.mongo.MongoClient): void {
  if (instrumented.has(mongo)) return;
  instrumented.add(mongo);
  mongo.on('commandStarted', (e) => {
    const target = (e.command as Record<string, unknown>)[e.commandName];
    const key = `${e.commandName}\0${typeof target === 'string' ? target : ''}`;
    mongoStats.set(key, (mongoStats.get(key) ?? 0) + 1);
  });
}

/** parley_mongo_commands_total{command, collection} on `registry`. */
export function registerMongoMetrics(registry: client.Registry): void {
  new client.Counter({
    name: 'parley_mongo_commands_total',
    help: 'Commands sent to the MongoDB-compatible server by this process, by command and collection (0 in embedded mode).',
    labelNames: ['command', 'collection'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [key, n] of mongoStats) {
        const [command, collection] = key.split('\0') as [string, string];
        this.labels(command, collection).inc(n);
      }
    },
  });
}
