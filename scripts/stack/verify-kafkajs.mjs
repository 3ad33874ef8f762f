#!/usr/bin/env node
// Verifies that kafkajs works against the local Kafka broker started by
// scripts/stack/up.sh. Exercises exactly the client APIs Parley relies on:
//   admin: createTopics, createPartitions, describeConfigs, alterConfigs,
//          fetchTopicOffsets, fetchOffsets, deleteTopics
//   producer: idempotent, acks=-1
//   consumer: group join, commitOffsets, restart resumes from committed offset
//
// Usage:
//   eval "$(scripts/stack/env.sh)"; node scripts/stack/verify-kafkajs.mjs
// kafkajs is resolved from the repo's node_modules, or else from the current
// working directory (e.g. a scratch dir with `npm i kafkajs@2.2.4`).
// Brokers come from KAFKA_BROKERS (default 127.0.0.1:9092).
// Exit code 0 = all checks passed; 1 = at least one failed.

import { load } from './resolve.mjs';

const mod = await load('kafkajs');
const { Kafka, logLevel, Partitioners, ConfigResourceTypes } = mod.default ?? mod;

const brokers = (process.env.KAFKA_BROKERS || '127.0.0.1:9092')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
const runId = `${Date.now()}-${process.pid}`;
const topic = `parley-verify-${runId}`;
const groupId = `parley-verify-group-${runId}`;
const MESSAGES = 30;

const kafka = new Kafka({
  clientId: 'parley-verify-kafkajs',
  brokers,
  logLevel: process.env.KAFKAJS_LOG_LEVEL ? logLevel[process.env.KAFKAJS_LOG_LEVEL] : logLevel.NOTHING,
  retry: { retries: 5 },
});

const results = [];
async function step(name, fn) {
  const t0 = Date.now();
  try {
    const detail = await fn();
    results.push({ name, ok: true });
    console.log(`PASS ${name} (${Date.now() - t0} ms)${detail ? ` - ${detail}` : ''}`);
    return true;
  } catch (err) {
    results.push({ name, ok: false });
    const extra = [err?.type, err?.code !== undefined ? `code=${err.code}` : null].filter(Boolean).join(' ');
    console.log(
      `FAIL ${name} (${Date.now() - t0} ms) - ${err?.name}: ${err?.message}${extra ? ` [${extra}]` : ''}`,
    );
    if (process.env.VERBOSE) console.log(err);
    return false;
  }
}

function assert(cond, msg) {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}

function withTimeout(promise, ms, what) {
  let t;
  return Promise.race([
    promise,
    new Promise((_, rej) => {
      t = setTimeout(() => rej(new Error(`timeout after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}

// Consume until `expected` messages arrived (or timeout); returns them.
async function consumeN(expected, { autoCommit }) {
  const consumer = kafka.consumer({ groupId, sessionTimeout: 10000, heartbeatInterval: 1000 });
  const got = [];
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  let done;
  const all = new Promise((res) => (done = res));
  await consumer.run({
    autoCommit,
    eachMessage: async ({ partition, message }) => {
      got.push({ partition, offset: Number(message.offset), value: message.value.toString() });
      if (got.length >= expected) done();
    },
  });
  try {
    await withTimeout(all, 30000, `${expected} messages (got ${got.length})`);
    // Let any stray extra message show up (would indicate a wrong resume point).
    await new Promise((r) => setTimeout(r, 1000));
    return { consumer, got };
  } catch (err) {
    await consumer.disconnect().catch(() => {});
    throw err;
  }
}

const admin = kafka.admin();
let highWatermarks = {}; // partition -> high watermark
let committed = {}; // partition -> offset committed by consumer #1
let allOk = true;

try {
  allOk &= await step('admin.connect', async () => {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return `brokers=${cluster.brokers.map((b) => `${b.host}:${b.port}`).join(',')} controller=${cluster.controller}`;
  });

  allOk &= await step('admin.createTopics', async () => {
    const created = await admin.createTopics({
      waitForLeaders: true,
      topics: [
        {
          topic,
          numPartitions: 2,
          replicationFactor: 1,
          configEntries: [{ name: 'retention.ms', value: '3600000' }],
        },
      ],
    });
    assert(created === true, 'createTopics returned true');
    const topics = await admin.listTopics();
    assert(topics.includes(topic), 'topic listed');
  });

  allOk &= await step('admin.createPartitions', async () => {
    await admin.createPartitions({ topicPartitions: [{ topic, count: 3 }] });
    const md = await admin.fetchTopicMetadata({ topics: [topic] });
    const n = md.topics[0].partitions.length;
    assert(n === 3, `3 partitions, got ${n}`);
    return `partitions=${n}`;
  });

  allOk &= await step('admin.describeConfigs', async () => {
    const res = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [
        { type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['retention.ms', 'cleanup.policy'] },
        { type: ConfigResourceTypes.BROKER, name: '1', configNames: ['auto.create.topics.enable'] },
      ],
    });
    const t = res.resources.find((r) => r.resourceType === ConfigResourceTypes.TOPIC);
    const retention = t.configEntries.find((e) => e.configName === 'retention.ms');
    assert(t.errorCode === 0, `topic errorCode 0, got ${t.errorCode}`);
    assert(retention?.configValue === '3600000', `retention.ms=3600000, got ${retention?.configValue}`);
    const b = res.resources.find((r) => r.resourceType === ConfigResourceTypes.BROKER);
    return `retention.ms=${retention.configValue} broker auto.create.topics.enable=${b?.configEntries[0]?.configValue}`;
  });

  allOk &= await step('admin.alterConfigs', async () => {
    await admin.alterConfigs({
      validateOnly: false,
      resources: [
        {
          type: ConfigResourceTypes.TOPIC,
          name: topic,
          configEntries: [{ name: 'retention.ms', value: '7200000' }],
        },
      ],
    });
    const res = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['retention.ms'] }],
    });
    const v = res.resources[0].configEntries.find((e) => e.configName === 'retention.ms')?.configValue;
    assert(v === '7200000', `retention.ms=7200000 after alter, got ${v}`);
    return `retention.ms=${v}`;
  });

  allOk &= await step('producer idempotent acks=-1', async () => {
    const producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    try {
      const messages = Array.from({ length: MESSAGES }, (_, i) => ({ key: `k${i}`, value: `v${i}` }));
      const meta = await producer.send({ topic, acks: -1, messages: messages.slice(0, MESSAGES / 2) });
      await producer.sendBatch({
        acks: -1,
        topicMessages: [{ topic, messages: messages.slice(MESSAGES / 2) }],
      });
      assert(
        meta.every((m) => m.errorCode === 0),
        'no produce errors',
      );
    } finally {
      await producer.disconnect();
    }
  });

  allOk &= await step('admin.fetchTopicOffsets', async () => {
    const offs = await admin.fetchTopicOffsets(topic);
    highWatermarks = Object.fromEntries(offs.map((o) => [o.partition, Number(o.high)]));
    const total = Object.values(highWatermarks).reduce((a, b) => a + b, 0);
    assert(total === MESSAGES, `sum of high watermarks = ${MESSAGES}, got ${total}`);
    return `high=${JSON.stringify(highWatermarks)}`;
  });

  allOk &= await step('consumer group: consume all + commitOffsets', async () => {
    const { consumer, got } = await consumeN(MESSAGES, { autoCommit: false });
    try {
      assert(got.length === MESSAGES, `consumed ${MESSAGES}, got ${got.length}`);
      assert(new Set(got.map((m) => m.value)).size === MESSAGES, 'no duplicates (idempotent producer)');
      committed = Object.fromEntries(Object.entries(highWatermarks).map(([p, h]) => [p, Math.floor(h / 2)]));
      await consumer.commitOffsets(
        Object.entries(committed).map(([partition, offset]) => ({
          topic,
          partition: Number(partition),
          offset: String(offset),
        })),
      );
    } finally {
      await consumer.disconnect();
    }
    return `committed=${JSON.stringify(committed)}`;
  });

  allOk &= await step('admin.fetchOffsets (committed by consumer)', async () => {
    const res = await admin.fetchOffsets({ groupId, topics: [topic] });
    const parts = res.find((t) => t.topic === topic).partitions;
    for (const { partition, offset } of parts) {
      assert(
        Number(offset) === committed[partition],
        `p${partition} committed ${committed[partition]}, got ${offset}`,
      );
    }
    return JSON.stringify(parts.map((p) => [p.partition, p.offset]));
  });

  allOk &= await step('consumer restart resumes from committed offset', async () => {
    const expected = Object.entries(highWatermarks).reduce((a, [p, h]) => a + (h - committed[p]), 0);
    const { consumer, got } = await consumeN(expected, { autoCommit: true });
    await consumer.disconnect(); // commits on disconnect (autoCommit)
    assert(got.length === expected, `expected ${expected} messages after resume, got ${got.length}`);
    for (const [p, c] of Object.entries(committed)) {
      const offs = got.filter((m) => m.partition === Number(p)).map((m) => m.offset);
      if (offs.length) assert(Math.min(...offs) === c, `p${p} resumed at ${c}, got ${Math.min(...offs)}`);
    }
    const res = await admin.fetchOffsets({ groupId, topics: [topic] });
    for (const { partition, offset } of res[0].partitions) {
      assert(
        Number(offset) === highWatermarks[partition],
        `p${partition} auto-committed ${highWatermarks[partition]}, got ${offset}`,
      );
    }
    return `re-consumed ${got.length} (skipped ${MESSAGES - got.length} already committed)`;
  });

  allOk &= await step('admin.deleteTopics', async () => {
    await admin.deleteGroups([groupId]);
    await admin.deleteTopics({ topics: [topic] });
  });
} finally {
  await admin.disconnect().catch(() => {});
}

const failed = results.filter((r) => !r.ok).length;
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exit(allOk && failed === 0 ? 0 : 1);
