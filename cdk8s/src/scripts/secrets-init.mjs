// Creates the Secrets the chart needs and the user did not supply (SECRETS: a JSON list of
// {name, keys: {key: "password" | "hmac" | "keyfile" | "jwks" | "vapid-public" | "vapid-private"}}), through the Kubernetes API with this
// pod's ServiceAccount. A Secret that already exists is left alone, so credentials survive
// upgrades and re-installs; nothing secret ever appears in values or manifests.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';

const sa = '/var/run/secrets/kubernetes.io/serviceaccount';
const token = readFileSync(`${sa}/token`, 'utf8');
const ca = readFileSync(`${sa}/ca.crt`);
const namespace = readFileSync(`${sa}/namespace`, 'utf8');
const host = process.env.KUBERNETES_SERVICE_HOST;
const port = process.env.KUBERNETES_SERVICE_PORT;

// The keys of one Secret share this: the VAPID public and private key must be one pair.
const generators = {
  password: () => randomBytes(24).toString('base64url'),
  hmac: () => randomBytes(32).toString('base64url'),
  keyfile: () => randomBytes(756).toString('base64'),
  jwks: () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const kid = `k${new Date().toISOString().slice(0, 10).replaceAll('-', '')}`;
    return JSON.stringify([{ ...privateKey.export({ format: 'jwk' }), kid, alg: 'EdDSA', use: 'sig' }]);
  },
  // Web Push VAPID (RFC 8292): a P-256 pair as web-push takes it, the public key an uncompressed
  // point and the private key the scalar d, both base64url.
  'vapid-public': (shared) => vapidOf(shared).publicKey,
  'vapid-private': (shared) => vapidOf(shared).privateKey,
};

function vapidOf(shared) {
  if (!shared.vapid) {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const jwk = privateKey.export({ format: 'jwk' });
    const point = Buffer.concat([
      Buffer.from([4]),
      Buffer.from(jwk.x, 'base64url'),
      Buffer.from(jwk.y, 'base64url'),
    ]);
    shared.vapid = { publicKey: point.toString('base64url'), privateKey: jwk.d };
  }
  return shared.vapid;
}

function api(method, path, body) {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host,
        port,
        method,
        path,
        ca,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode, text }));
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

const base = `/api/v1/namespaces/${namespace}/secrets`;
for (const { name, keys, labels } of JSON.parse(process.env.SECRETS)) {
  if (!name) continue; // the user supplies this one
  const found = await api('GET', `${base}/${name}`);
  if (found.status === 200) {
    console.log(`secret ${name}: exists, kept`);
    continue;
  }
  if (found.status !== 404) throw new Error(`GET secret ${name}: ${found.status} ${found.text}`);
  const shared = {};
  const stringData = Object.fromEntries(
    Object.entries(keys).map(([k, kind]) => [k, generators[kind](shared)]),
  );
  const created = await api('POST', base, {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, labels },
    type: 'Opaque',
    stringData,
  });
  if (created.status === 201) console.log(`secret ${name}: created (${Object.keys(keys).join(', ')})`);
  else if (created.status === 409) console.log(`secret ${name}: created concurrently, kept`);
  else throw new Error(`POST secret ${name}: ${created.status} ${created.text}`);
}
