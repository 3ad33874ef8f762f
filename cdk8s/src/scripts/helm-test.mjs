// `helm test`: two users register through the auth Service; bob opens a WebSocket to the message
// api Service (/v1/ws); alice sends him a message over REST; bob must receive it on the socket
// (message.created) and read it back over REST. Runs in the message image, which has `ws`.
import { createRequire } from 'node:module';

// BASE_URL (tests.baseUrl), when set, replaces both: everything goes through that one address, the
// ingress (its rules send /v1/auth… to the auth service and the rest to the message api).
const { BASE_URL, WS_FROM = '/app/services/message/package.json' } = process.env;
const AUTH_URL = BASE_URL || process.env.AUTH_URL;
const API_URL = BASE_URL || process.env.API_URL;
console.log(`through ${BASE_URL ? `the ingress at ${BASE_URL}` : 'the Services'}`);
const WebSocket = createRequire(WS_FROM)('ws');
const run = Date.now().toString(36);

async function call(base, method, path, body, token) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(body ? { 'content-type': 'application/json' } : {}),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

async function register(name) {
  const username = `${name}${run}`;
  const { tokens } = await call(AUTH_URL, 'POST', '/v1/auth/register', {
    username,
    password: `Helm-test ${run} pass phrase`,
  });
  console.log(`registered ${username}`);
  return { username, token: tokens.accessToken };
}

/** Opens bob's socket and resolves once the gateway says `ready`; `frames` collects the rest. */
function connect(token, frames) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${API_URL.replace(/^http/, 'ws')}/v1/ws`, [
      'parley.v1',
      `parley.bearer.${token}`,
    ]);
    const timer = setTimeout(() => reject(new Error('no ready frame within 15 s')), 15_000);
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data));
      if (frame.type === 'ready') {
        clearTimeout(timer);
        resolve(ws);
      } else frames.push(frame);
    });
    ws.on('close', (code) => reject(new Error(`socket closed with ${code}`)));
    ws.on('error', reject);
  });
}

async function until(what, test, seconds = 30) {
  for (let i = 0; i < seconds * 2; i++) {
    if (await test()) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${what} within ${seconds} s`);
}

const alice = await register('alice');
const bob = await register('bob');
const conversation = await call(
  API_URL,
  'POST',
  '/v1/conversations',
  { type: 'direct', members: [bob.username] },
  alice.token,
);
const frames = [];
const socket = await connect(bob.token, frames);
console.log('bob is connected to /v1/ws');

const body = `hello from helm test ${run}`;
const sent = await call(
  API_URL,
  'POST',
  `/v1/conversations/${conversation.id}/messages?wait=persisted`,
  { clientMsgId: `helm-${run}`, body },
  alice.token,
);
console.log(`alice sent a message (seq ${sent.seq ?? 'pending'})`);

await until('bob did not receive message.created on his socket', () =>
  frames.some((f) => f.type === 'message.created' && JSON.stringify(f).includes(body)),
);
console.log('bob received it on the WebSocket');
await until('bob could not read the message over REST', async () => {
  const page = await call(
    API_URL,
    'GET',
    `/v1/conversations/${conversation.id}/messages?after=0&limit=10`,
    undefined,
    bob.token,
  );
  return page.messages.some((m) => m.body === body);
});
console.log('bob read it over REST: ok');
socket.close(1000);
process.exit(0);
