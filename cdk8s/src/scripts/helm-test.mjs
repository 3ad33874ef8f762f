// `helm test`: registers two users through the auth Service, and exchanges a message through
// the message api Service (send, wait until persisted, read back as the recipient).
const { AUTH_URL, API_URL } = process.env;
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

const alice = await register('alice');
const bob = await register('bob');
const conversation = await call(
  API_URL,
  'POST',
  '/v1/conversations',
  { type: 'direct', members: [bob.username] },
  alice.token,
);
const body = `hello from helm test ${run}`;
const sent = await call(
  API_URL,
  'POST',
  `/v1/conversations/${conversation.id}/messages?wait=persisted`,
  { clientMsgId: `helm-${run}`, body },
  alice.token,
);
console.log(`sent message seq ${sent.seq ?? '(accepted)'}`);
for (let attempt = 0; attempt < 30; attempt++) {
  const page = await call(
    API_URL,
    'GET',
    `/v1/conversations/${conversation.id}/messages?after=0&limit=10`,
    undefined,
    bob.token,
  );
  const items = page.messages;
  if (Array.isArray(items) && items.some((m) => m.body === body)) {
    console.log('bob received the message: ok');
    process.exit(0);
  }
  await new Promise((r) => setTimeout(r, 1000));
}
console.error('bob did not receive the message within 30 s');
process.exit(1);
