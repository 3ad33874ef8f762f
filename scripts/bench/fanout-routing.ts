/**
 * Why fan-out is routed per conversation: the relay's cost to reach a 1,000-member room spread
 * over gateway pods, per conversation channel (one SPUBLISH per message, each pod fans out locally)
 * against per user channel (one SPUBLISH per member per message), on the real Redis Cluster.
 *
 *   eval "$(bash scripts/stack/env.sh)"
 *   node --import tsx scripts/bench/fanout-routing.ts [--members 1000] [--gateways 2] [--messages 200]
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Cluster } from 'ioredis';

const { values: args } = parseArgs({
  options: {
    members: { type: 'string', default: '1000' },
    gateways: { type: 'string', default: '2' },
    messages: { type: 'string', default: '200' },
  },
});
const members = Number(args.members);
const gateways = Number(args.gateways);
const messages = Number(args.messages);
const nodes = (process.env.REDIS_NODES ?? '127.0.0.1:7001')
  .split(',')
  .map((n) => ({ host: n.split(':')[0]!, port: Number(n.split(':')[1]) }));
const payload = JSON.stringify({ type: 'message.created', body: 'x'.repeat(300) });

async function measure(mode: 'conversation' | 'user') {
  const tag = randomBytes(4).toString('hex');
  const users = Array.from({ length: members }, (_, i) => `bench-route-${tag}:u:${i}`);
  const room = `bench-route-${tag}:c`;
  let received = 0;
  // One subscriber connection set per simulated gateway pod; members split evenly between them.
  const subs = await Promise.all(
    Array.from({ length: gateways }, async (_, g) => {
      const sub = new Cluster(nodes, { shardedSubscribers: true });
      sub.on('smessage', () => received++);
      if (mode === 'conversation') await sub.ssubscribe(room);
      else for (const u of users.filter((_, i) => i % gateways === g)) await sub.ssubscribe(u);
      return sub;
    }),
  );
  const pub = new Cluster(nodes);
  await pub.ping();
  const expected = mode === 'conversation' ? messages * gateways : messages * members;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let publishes = 0;
  for (let m = 0; m < messages; m++) {
    if (mode === 'conversation') {
      await pub.spublish(room, payload);
      publishes++;
    } else {
      await Promise.all(users.map((u) => pub.spublish(u, payload)));
      publishes += users.length;
    }
  }
  const deadline = Date.now() + 120_000;
  while (received < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  await Promise.all([...subs, pub].map((c) => c.quit()));
  return {
    mode,
    publishes,
    received,
    expected,
    wall,
    cpu: (cpu.user + cpu.system) / 1e6,
  };
}

const rows = [await measure('conversation'), await measure('user')];
console.log(
  `\nrouting: ${members}-member room over ${gateways} gateways, ${messages} messages (relay + subscribers in this process)`,
);
console.log(
  '| routing | Redis publishes | pub/sub messages received | wall s | messages/s | process CPU s |',
);
console.log('| --- | --- | --- | --- | --- | --- |');
for (const r of rows)
  console.log(
    `| per ${r.mode} | ${r.publishes} | ${r.received}/${r.expected} | ${r.wall.toFixed(2)} | ${Math.round(messages / r.wall)} | ${r.cpu.toFixed(2)} |`,
  );
const [c, u] = rows as [(typeof rows)[0], (typeof rows)[0]];
console.log(
  `\nper-user routing costs ${(u.publishes / c.publishes).toFixed(0)}× the publishes, ${(u.wall / c.wall).toFixed(1)}× the time and ${(u.cpu / c.cpu).toFixed(1)}× the CPU of per-conversation routing.`,
);
process.exit(0);
