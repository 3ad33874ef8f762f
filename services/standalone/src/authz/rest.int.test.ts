import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type { Json } from '@parley/common/testing';
import { PUBLIC, SECRET, SECURED } from './rows.ts';
import { authzWorld } from './world.ts';

describe('authorization matrix (embedded): REST', function () {
  this.timeout(60_000);
  const t = authzWorld();
  const { w, badTokens, call, json, documented, refused, noSecrets } = t;

  it('has a row for every operation of the OpenAPI document, and no stale row', () => {
    const ops = Object.entries(t.doc.paths).flatMap(([p, byMethod]) =>
      Object.entries(byMethod).map(([method, op]) => ({ key: `${method.toUpperCase()} ${p}`, op })),
    );
    const keys = ops.map((o) => o.key);
    expect(
      keys.filter((k) => !(k in SECURED) && !(k in PUBLIC)),
      'operations without a row',
    ).to.deep.equal([]);
    expect(
      [...Object.keys(SECURED), ...Object.keys(PUBLIC)].filter((k) => !keys.includes(k)),
      'stale rows',
    ).to.deep.equal([]);
    for (const { key, op } of ops) {
      const open = Array.isArray(op.security) && op.security.length === 0;
      expect(open, `${key}: public in the document ⇔ in PUBLIC`).to.equal(key in PUBLIC);
    }
  });

  describe('REST: a bad or missing token gets 401 UNAUTHENTICATED', () => {
    for (const [key, op] of Object.entries(SECURED)) {
      const [method, route] = key.split(' ') as [string, string];
      it(`${key}`, async () => {
        documented(method, route, 401, 'UNAUTHENTICATED');
        const { path, body } = op.req(w);
        for (const [variant, token] of Object.entries(badTokens))
          refused(await call(method, path, token, body), 401, 'UNAUTHENTICATED', `${key} with ${variant}`);
      });
    }
  });

  describe('REST: a signed-in user who is not allowed', () => {
    for (const [key, op] of Object.entries(SECURED)) {
      const [method, route] = key.split(' ') as [string, string];
      for (const d of op.denials)
        it(`${key} as ${d.as} (${d.why}) → ${d.status}${d.code ? ` ${d.code}` : ' without the secrets'}`, async () => {
          documented(method, route, d.status, d.code);
          const { path, body } = (d.req ?? op.req)(w);
          const r = await call(method, path, w.users[d.as].token, body);
          if (d.code) refused(r, d.status, d.code, `${key} as ${d.as}`);
          else {
            expect(r.status, r.text).to.equal(d.status);
            noSecrets(r.text, `${key} as ${d.as}`);
          }
        });
    }
  });

  describe('REST: public operations refuse the hostile call', () => {
    for (const [key, p] of Object.entries(PUBLIC)) {
      if (!p.hostile) continue;
      const [method, route] = key.split(' ') as [string, string];
      it(`${key} (${p.why})`, async () => {
        const h = p.hostile!(w);
        documented(method, route, h.status, h.code);
        refused(await call(method, h.path, undefined, h.body), h.status, h.code, key);
      });
    }
  });

  type Body = { requestBody?: { content?: object } };

  describe('REST: every operation with a JSON body refuses hostile shapes before anything walks them', () => {
    // #15: a body nested 10,000 deep overflowed the stack of the U+0000 walk (500). The limits are
    // checked on the raw text, before authentication, so signed-in or not makes no difference.
    const shapes: [string, string, string][] = [
      [
        'nested 10,000 deep',
        `{"a":${'['.repeat(10_000)}${']'.repeat(10_000)}}`,
        'JSON nests deeper than 32 levels',
      ],
      ['nested 33 deep', `{"a":${'['.repeat(32)}${']'.repeat(32)}}`, 'JSON nests deeper than 32 levels'],
      [
        'with 2,049 keys',
        `{${Array.from({ length: 2049 }, (_, i) => `"${i}":0`).join(',')}}`,
        'JSON has more than 2048 object keys',
      ],
    ];
    it('for every operation of the document', async () => {
      const ops = Object.entries(t.doc.paths).flatMap(([route, byMethod]) =>
        Object.entries(byMethod)
          // Only JSON bodies: an upload route reads its own stream (multipart/form-data, octets) after auth.
          .filter(([, op]) => 'application/json' in ((op as Body).requestBody?.content ?? {}))
          .map(([method]) => [method.toUpperCase(), route] as const),
      );
      expect(ops.length).to.be.greaterThan(10);
      for (const [method, route] of ops) {
        const path = route.replace(/\{[^}]+\}/g, randomUUID());
        for (const [what, text, detail] of shapes)
          for (const token of [undefined, w.users.mallory.token]) {
            const res = await fetch(t.base + path, {
              method,
              headers: {
                'content-type': 'application/json',
                ...(token ? { authorization: `Bearer ${token}` } : {}),
              },
              body: text,
            });
            const r = {
              status: res.status,
              type: res.headers.get('content-type') ?? '',
              text: await res.text(),
            };
            refused(r, 400, 'MALFORMED_JSON', `${method} ${route} ${what}${token ? ' signed in' : ''}`);
            expect(JSON.parse(r.text).detail).to.equal(detail);
            documented(method, route, 400, 'MALFORMED_JSON');
          }
      }
    });
  });

  it('left every victim resource as it was', async () => {
    const { alice, bob, root } = w.users;
    const conv = await json('GET', `/v1/conversations/${w.group}`, alice.token);
    expect(conv.title).to.equal(SECRET.title);
    expect((conv.members as Json[]).map((x) => x.userId).sort()).to.deep.equal([alice.id, bob.id].sort());
    expect((conv.members as Json[]).find((x) => x.userId === bob.id)?.role).to.equal('member');
    const page = await json('GET', `/v1/conversations/${w.group}/messages?after=0`, alice.token);
    expect((page.messages as Json[]).map((x) => x.body)).to.deep.equal([SECRET.body]);
    expect((await json('GET', '/v1/users/me/devices', bob.token)).devices.map((d: Json) => d.id)).to.include(
      w.bobDevice,
    );
    expect((await json('GET', '/v1/users/me', bob.token)).status).to.equal('active');
    expect((await json('GET', '/v1/users/me', alice.token)).roles).to.deep.equal(['user']);
    expect((await json('GET', '/v1/users/me', root.token)).roles).to.include('admin');
  });
});
