import { expect } from 'chai';
import { ParleyApiError, ParleyClient } from './client.ts';
import type { TokenPair } from './types.ts';

const NOW = Date.parse('2026-01-01T00:00:00Z');
const pair = (n: number, expiresInMs = 15 * 60_000): TokenPair => ({
  tokenType: 'Bearer',
  accessToken: `at${n}`,
  accessTokenExpiresAt: new Date(NOW + expiresInMs).toISOString(),
  refreshToken: `rt${n}`,
  refreshTokenExpiresAt: new Date(NOW + 86_400_000).toISOString(),
  sessionId: '00000000-0000-4000-8000-000000000001',
});

/** A fake server: /v1/users/me accepts only `valid`; /v1/auth/refresh rotates (once per token). */
function fakeServer(valid: { token: string }) {
  const calls: string[] = [];
  let generation = 1;
  const used = new Set<string>();
  const json = (status: number, body: unknown, type = 'application/json') =>
    new Response(JSON.stringify(body), { status, headers: { 'content-type': type } });
  const fetchFn = (async (url: string, init: RequestInit) => {
    const path = new URL(url).pathname;
    const auth = (init.headers as Record<string, string>).authorization;
    calls.push(`${init.method} ${path}${auth ? ` ${auth}` : ''}`);
    if (path === '/v1/auth/refresh') {
      const { refreshToken } = JSON.parse(String(init.body)) as { refreshToken: string };
      if (used.has(refreshToken) || refreshToken !== `rt${generation}`)
        return json(401, { code: 'INVALID_REFRESH_TOKEN' }, 'application/problem+json');
      used.add(refreshToken);
      await new Promise((r) => setImmediate(r));
      const next = pair(++generation);
      valid.token = next.accessToken;
      return json(200, next);
    }
    if (auth !== `Bearer ${valid.token}`)
      return json(401, { code: 'UNAUTHENTICATED' }, 'application/problem+json');
    return json(200, { id: 'u1', username: 'alice' });
  }) as unknown as typeof fetch;
  return { calls, fetchFn };
}

describe('ParleyClient token handling', () => {
  it('refreshes once on a 401 and retries the request with the new token', async () => {
    const valid = { token: 'at-other' }; // the held access token was revoked server-side
    const { calls, fetchFn } = fakeServer(valid);
    const seen: (TokenPair | null)[] = [];
    const c = new ParleyClient({
      baseUrl: 'http://x',
      fetch: fetchFn,
      tokens: pair(1),
      now: () => NOW,
      onTokens: (t) => seen.push(t),
    });
    expect((await c.me()).username).to.equal('alice');
    expect(calls).to.deep.equal([
      'GET /v1/users/me Bearer at1',
      'POST /v1/auth/refresh',
      'GET /v1/users/me Bearer at2',
    ]);
    expect(seen.map((t) => t?.accessToken)).to.deep.equal(['at2']);
  });

  it('shares one refresh between concurrent requests (a refresh token works once)', async () => {
    const valid = { token: 'at-other' };
    const { calls, fetchFn } = fakeServer(valid);
    const c = new ParleyClient({ baseUrl: 'http://x', fetch: fetchFn, tokens: pair(1), now: () => NOW });
    await Promise.all([c.me(), c.me(), c.me()]);
    expect(calls.filter((x) => x.includes('refresh'))).to.have.length(1);
  });

  it('refreshes before a request when the access token is about to expire', async () => {
    const valid = { token: 'at1' };
    const { calls, fetchFn } = fakeServer(valid);
    const c = new ParleyClient({
      baseUrl: 'http://x',
      fetch: fetchFn,
      tokens: pair(1, 10_000),
      now: () => NOW,
    });
    await c.me();
    expect(calls).to.deep.equal(['POST /v1/auth/refresh', 'GET /v1/users/me Bearer at2']);
  });

  it('signs out locally when the refresh is refused', async () => {
    const { fetchFn } = fakeServer({ token: 'at-other' });
    const seen: (TokenPair | null)[] = [];
    const c = new ParleyClient({
      baseUrl: 'http://x',
      fetch: fetchFn,
      tokens: { ...pair(1), refreshToken: 'rt-stolen' },
      now: () => NOW,
      onTokens: (t) => seen.push(t),
    });
    const err = await c.me().catch((e: unknown) => e);
    expect(err).to.be.instanceOf(ParleyApiError);
    expect((err as ParleyApiError).code).to.equal('INVALID_REFRESH_TOKEN');
    expect(c.tokens).to.equal(null);
    expect(seen).to.deep.equal([null]);
  });
});

describe('ParleyClient attachments', () => {
  const seen: { url: string; headers: Record<string, string>; body: unknown }[] = [];
  const fetchFn = (async (url: string, init: RequestInit) => {
    seen.push({ url, headers: init.headers as Record<string, string>, body: init.body });
    if (url.includes('/content'))
      return url.includes('missing')
        ? new Response(JSON.stringify({ code: 'ATTACHMENT_NOT_FOUND' }), {
            status: 404,
            headers: { 'content-type': 'application/problem+json' },
          })
        : new Response(new Uint8Array([1, 2, 3]), { headers: { 'content-type': 'image/webp' } });
    return new Response(JSON.stringify({ id: 'a1' }), { headers: { 'content-type': 'application/json' } });
  }) as unknown as typeof fetch;
  const c = new ParleyClient({ baseUrl: 'http://x', fetch: fetchFn, tokens: pair(1), now: () => NOW });

  it('uploads as multipart (the runtime sets the boundary), never as JSON', async () => {
    seen.length = 0;
    await c.media.uploadSingle({ conversationId: 'conv-1', file: new Blob(['png']), filename: 'a.png' });
    const [req] = seen;
    expect(req!.url).to.equal('http://x/v1/media');
    expect(req!.headers).to.deep.equal({ authorization: 'Bearer at1' });
    const form = req!.body as FormData;
    expect(form.get('conversationId')).to.equal('conv-1');
    expect((form.get('file') as File).name).to.equal('a.png');
  });

  it('fetches a variant’s bytes with the token, and a problem answer as ParleyApiError', async () => {
    seen.length = 0;
    const blob = await (await c.media.download('a1', 'thumbnail')).blob();
    expect([...new Uint8Array(await blob.arrayBuffer())]).to.deep.equal([1, 2, 3]);
    expect(seen[0]!.url).to.equal('http://x/v1/media/a1/content?variant=thumbnail');
    expect(seen[0]!.headers).to.deep.equal({ authorization: 'Bearer at1' });
    const err = await c.media.download('missing').catch((e: unknown) => e);
    expect(err).to.be.instanceOf(ParleyApiError).and.include({ status: 404, code: 'ATTACHMENT_NOT_FOUND' });
  });
});
