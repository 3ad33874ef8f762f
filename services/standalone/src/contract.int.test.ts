import { expect } from 'chai';
import { randomInt, randomUUID } from 'node:crypto';
import type { Running } from '@parley/common';
import { startEmbedded } from './testkit.ts';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * The served document lists every status the server can produce (#18). The expected statuses of
 * each operation are derived from its route definition and the error catalogue, as the layers
 * around every handler behave; then the ones a client can provoke without data (401, 413, 414,
 * 415, 429) are provoked on every operation, and each answer must be a status the document lists.
 */
describe('API contract: every status the server produces is documented (embedded)', function () {
  this.timeout(120_000);
  let running: Running;
  let stop: (() => Promise<void>) | undefined;
  let doc: { paths: Record<string, Record<string, Json>> };
  // A fresh client address per call: the general limit is per client.
  const from = () => `10.${randomInt(250)}.${randomInt(250)}.${randomInt(250) + 1}`;

  before(async () => {
    ({ running, stop } = await startEmbedded('contract', {
      HTTP_BODY_LIMIT_BYTES: '4096',
      // Low enough to reach on every operation; each probe comes from its own address.
      RATE_LIMIT_PER_MINUTE: '2',
      RATE_LIMIT_REGISTER_PER_15MIN: '1000',
    }));
    doc = (await running.inject({ method: 'GET', url: '/v1/openapi.json' })).json();
  });
  after(async () => {
    await stop?.();
  });

  const operations = () =>
    running.api.definitions.map((def) => ({
      def,
      key: `${def.method} ${def.url}`,
      op: doc.paths[def.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}')]?.[def.method.toLowerCase()] as Json,
      path: def.url.replace(/:[A-Za-z0-9_]+/g, () => randomUUID()),
    }));
  const declared = (op: Json) => Object.keys(op.responses as Json).map(Number);

  it('documents what each route definition and the layers around it can answer', () => {
    const catalogue = running.api.errorCatalogue;
    const ops = operations();
    expect(ops.length).to.be.greaterThan(40);
    for (const { def, key, op } of ops) {
      expect(op, `${key} is in the document`).to.not.equal(undefined);
      const expected = new Set<number>([
        ...Object.keys(def.responses).map(Number),
        ...(def.errors ?? []).map((c) => catalogue[c]!.status),
        400, // validation, U+0000
        431, // headers too large (Node's parser)
        500,
        503, // dependencies connecting, or down
      ]);
      if (!def.unlimited) expected.add(429);
      if (def.params) expected.add(414);
      if (def.access !== 'public') expected.add(401);
      if (def.access === 'admin') expected.add(403);
      // The body reader runs for every method that can carry one, whether the route takes a body or not.
      if (['POST', 'PUT', 'PATCH', 'DELETE'].includes(def.method)) [413, 415].forEach((s) => expected.add(s));
      expect(declared(op).sort(), key).to.include.members([...expected]);
      const limited = op.responses['429'] as Json | undefined;
      if (limited)
        expect(limited.headers?.['Retry-After'], `${key} 429 documents Retry-After`).to.not.equal(undefined);
    }
  });

  it('answers provoked failures on every operation only with documented statuses', async () => {
    const seen = new Map<number, number>();
    for (const { def, key, op } of operations()) {
      const path = def.url.replace(/:[A-Za-z0-9_]+/g, () => 'x'.repeat(8));
      const probes: [string, Parameters<Running['inject']>[0]][] = [
        ['no token', { method: def.method, url: path, remoteAddress: from() }],
      ];
      if (def.params)
        probes.push([
          'an over-long path segment',
          {
            method: def.method,
            url: def.url.replace(/:[A-Za-z0-9_]+/, 'y'.repeat(1100)),
            remoteAddress: from(),
          },
        ]);
      if (['POST', 'PUT', 'PATCH', 'DELETE'].includes(def.method))
        probes.push(
          [
            'an oversize body',
            {
              method: def.method,
              url: path,
              headers: { 'content-type': 'application/json' },
              payload: JSON.stringify({ pad: 'z'.repeat(5000) }),
              remoteAddress: from(),
            },
          ],
          [
            'a text body',
            {
              method: def.method,
              url: path,
              headers: { 'content-type': 'text/plain' },
              payload: 'hi',
              remoteAddress: from(),
            },
          ],
        );
      for (const [what, req] of probes) {
        const res = await running.inject(req);
        seen.set(res.statusCode, (seen.get(res.statusCode) ?? 0) + 1);
        expect(declared(op), `${key} with ${what} answered ${res.statusCode}: ${res.body}`).to.include(
          res.statusCode,
        );
      }
      // Over the general limit (2 a minute per client), from one address: 429 unless exempt.
      const ip = from();
      const answers: number[] = [];
      for (let i = 0; i < 3; i++)
        answers.push(
          (
            await running.inject({
              method: def.method,
              url: path,
              remoteAddress: ip,
              headers: { authorization: 'Bearer x' },
            })
          ).statusCode,
        );
      for (const status of answers) seen.set(status, (seen.get(status) ?? 0) + 1);
      for (const status of answers)
        expect(declared(op), `${key} answered ${status} over the limit`).to.include(status);
      if (def.access === 'public' && !def.unlimited) expect(answers, key).to.include(429);
    }
    for (const status of [401, 413, 414, 415, 429])
      expect(seen.get(status) ?? 0, `${status} provoked`).to.be.greaterThan(0);
  });

  it('serves the JWKS with an ETag, revalidates with 304, and never throttles it', async () => {
    const ip = from();
    const first = await running.inject({ method: 'GET', url: '/.well-known/jwks.json', remoteAddress: ip });
    expect(first.statusCode).to.equal(200);
    expect(first.headers['cache-control']).to.equal('public, max-age=300');
    const etag = first.headers.etag as string;
    expect(etag).to.match(/^"[A-Za-z0-9_-]+"$/);
    for (let i = 0; i < 10; i++) {
      const again = await running.inject({
        method: 'GET',
        url: '/.well-known/jwks.json',
        remoteAddress: ip,
        headers: { 'if-none-match': etag },
      });
      expect([again.statusCode, again.body]).to.deep.equal([304, '']);
    }
  });
});
