/** The run's Kafka topics: DLQ size, consumer lag (diagnostics), and deletion at the end. */
import { Kafka, logLevel, type Admin } from 'kafkajs';

async function withAdmin<T>(brokers: string, fn: (admin: Admin) => Promise<T>): Promise<T> {
  const kafka = new Kafka({
    clientId: 'parley-chaos',
    brokers: brokers.split(','),
    logLevel: logLevel.NOTHING,
    retry: { retries: 3 },
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

/** Records in a topic (all partitions). */
export const topicSize = (brokers: string, topic: string) =>
  withAdmin(brokers, async (admin) =>
    (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high) - Number(p.low), 0),
  );

/** Per partition with lag: "p<partition>: committed <c> / end <e>". */
export const groupLag = (brokers: string, groupId: string, topic: string) =>
  withAdmin(brokers, async (admin) => {
    const [ends, committed] = await Promise.all([
      admin.fetchTopicOffsets(topic),
      admin.fetchOffsets({ groupId, topics: [topic] }),
    ]);
    const c = new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
    return ends
      .filter((e) => Math.max(0, c.get(e.partition) ?? -1) < Number(e.high))
      .map((e) => `p${e.partition}: committed ${c.get(e.partition)} / end ${e.high}`);
  });

/** Deletes the run's topics and consumer groups (every run makes new ones; the broker keeps them otherwise). */
export const dropRun = (brokers: string, topics: string[], groups: string[]) =>
  withAdmin(brokers, async (admin) => {
    await admin.deleteGroups(groups).catch(() => undefined);
    const existing = new Set(await admin.listTopics());
    const mine = topics.filter((t) => existing.has(t));
    if (mine.length) await admin.deleteTopics({ topics: mine, timeout: 30_000 });
  });
