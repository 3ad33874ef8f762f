/* global rs, print, sleep, connect */
// Initiates the replica set (or adds members it lacks), then creates the application and
// metrics users when missing. Idempotent: safe on re-install and on every upgrade.
// Env: MEMBERS (host:port,…), REPLICA_SET, DATABASE, ROOT_PASSWORD, PARLEY_PASSWORD, METRICS_PASSWORD.
const env = process.env;
const members = env.MEMBERS.split(',');
const wanted = members.map((host, i) => ({ _id: i, host }));

function waitFor(what, test) {
  for (let i = 0; i < 120; i++) {
    try {
      if (test()) return;
    } catch (e) {
      print(`waiting for ${what}: ${e.message}`);
    }
    sleep(2000);
  }
  throw new Error(`timed out waiting for ${what}`);
}

let initiated = true;
try {
  rs.status();
} catch (e) {
  if (e.codeName !== 'NotYetInitialized') throw e;
  initiated = false;
}
if (!initiated) {
  print(`initiating ${env.REPLICA_SET} with ${members.join(', ')}`);
  rs.initiate({ _id: env.REPLICA_SET, members: wanted });
}
waitFor('a primary', () => rs.status().members.some((m) => m.stateStr === 'PRIMARY'));

const uri = `mongodb://root:${env.ROOT_PASSWORD}@${members.join(',')}/admin?replicaSet=${env.REPLICA_SET}`;
const primary = connect(uri);
const config = primary.adminCommand({ replSetGetConfig: 1 }).config;
const known = new Set(config.members.map((m) => m.host));
const missing = members.filter((h) => !known.has(h));
if (missing.length > 0) {
  let next = Math.max(...config.members.map((m) => m._id)) + 1;
  config.members.push(...missing.map((host) => ({ _id: next++, host })));
  config.version += 1;
  primary.adminCommand({ replSetReconfig: config });
  print(`added members ${missing.join(', ')}`);
}

const app = primary.getSiblingDB(env.DATABASE);
if (!app.getUser('parley')) {
  app.createUser({
    user: 'parley',
    pwd: env.PARLEY_PASSWORD,
    roles: [{ role: 'readWrite', db: env.DATABASE }],
  });
  print('created user parley');
}
const admin = primary.getSiblingDB('admin');
if (!admin.getUser('metrics')) {
  admin.createUser({
    user: 'metrics',
    pwd: env.METRICS_PASSWORD,
    roles: [
      { role: 'clusterMonitor', db: 'admin' },
      { role: 'read', db: 'local' },
    ],
  });
  print('created user metrics');
}
print('replica set ready');
