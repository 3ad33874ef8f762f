// Creates the Secrets the chart needs and the user did not supply (SECRETS: a JSON list of
// {name, keys: {key: "password" | "hmac" | "keyfile" | "jwks" | "vapid-public" | "vapid-private"}}),
// through the Kubernetes API with this pod's ServiceAccount. A Secret that already exists is left
// alone, so credentials survive upgrades and re-installs; nothing secret ever appears in values or
// manifests. Imported (tests), it only exports `generate`.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync, realpathSync } from 'node:fs';
import { request } from 'node:https';
import { fileURLToPath } from 'node:url';

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

/** The values of one Secret's keys ({key: kind}), made together. */
export function generate(keys) {
  const shared = {};
  return Object.fromEntries(Object.entries(keys).map(([k, kind]) => [k, generators[kind](shared)]));
}

function api({ host, port, ca, token }, method, path, body) {
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

async function main() {
  const sa = '/var/run/secrets/kubernetes.io/serviceaccount';
  const conn = {
    token: readFileSync(`${sa}/token`, 'utf8'),
    ca: readFileSync(`${sa}/ca.crt`),
    host: process.env.KUBERNETES_SERVICE_HOST,
    port: process.env.KUBERNETES_SERVICE_PORT,
  };
  const base = `/api/v1/namespaces/${readFileSync(`${sa}/namespace`, 'utf8')}/secrets`;
  for (const { name, keys, labels } of JSON.parse(process.env.SECRETS)) {
    if (!name) continue; // the user supplies this one
    const found = await api(conn, 'GET', `${base}/${name}`);
    if (found.status === 200) {
      console.log(`secret ${name}: exists, kept`);
      continue;
    }
    if (found.status !== 404) throw new Error(`GET secret ${name}: ${found.status} ${found.text}`);
    const created = await api(conn, 'POST', base, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name, labels },
      type: 'Opaque',
      stringData: generate(keys),
    });
    if (created.status === 201) console.log(`secret ${name}: created (${Object.keys(keys).join(', ')})`);
    else if (created.status === 409) console.log(`secret ${name}: created concurrently, kept`);
    else throw new Error(`POST secret ${name}: ${created.status} ${created.text}`);
  }
}

// Run as the Job's command. Node resolves the ConfigMap's symlinks for import.meta.url, not argv.
if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
