/* global rs, db, print, sleep, connect */
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

// A server without replica-set commands (CommandNotFound: a single-member stand-in such as the
// FerretDB image of values-local.yaml, which reports its set name in `hello` but has no rs.*)
// skips the replica-set steps; its users are created on this connection.
let initiated = true;
let replicaCommands = true;
try {
  rs.status();
} catch (e) {
  if (e.codeName === 'CommandNotFound') {
    replicaCommands = false;
    print('this server has no replica-set commands (a single-member stand-in): skipping them');
  } else if (e.codeName !== 'NotYetInitialized') {
    throw e;
  } else {
    initiated = false;
  }
}
let primary = db;
if (replicaCommands) {
  if (!initiated) {
    print(`initiating ${env.REPLICA_SET} with ${members.join(', ')}`);
    rs.initiate({ _id: env.REPLICA_SET, members: wanted });
  }
  waitFor('a primary', () => rs.status().members.some((m) => m.stateStr === 'PRIMARY'));

  const uri = `mongodb://root:${env.ROOT_PASSWORD}@${members.join(',')}/admin?replicaSet=${env.REPLICA_SET}`;
  primary = connect(uri);
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
}

// A server without roles (NotImplemented: the FerretDB stand-in) gets the user without them.
function createUser(database, spec) {
  try {
    database.createUser(spec);
  } catch (e) {
    if (e.codeName !== 'NotImplemented') throw e;
    print(`roles are not supported here (${e.message}): creating ${spec.user} without roles`);
    database.createUser({ ...spec, roles: [] });
  }
}

const app = primary.getSiblingDB(env.DATABASE);
if (!app.getUser('parley')) {
  createUser(app, {
    user: 'parley',
    pwd: env.PARLEY_PASSWORD,
    roles: [{ role: 'readWrite', db: env.DATABASE }],
  });
  print('created user parley');
}
const admin = primary.getSiblingDB('admin');
if (!admin.getUser('metrics')) {
  createUser(admin, {
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
