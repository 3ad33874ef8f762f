import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { waitFor } from '@parley/common';
import { validOpenApi } from '@parley/common/testing';
import { PASSWORD, type AuthHarness } from '../testing/harness.ts';

/* The auth service over HTTP (what operators and integrators rely on: metrics, user events, the OpenAPI document); composed into one suite by ../auth.suite.ts. */

export function metricsCases(h: AuthHarness): void {
  const { call, register } = h;
  describe('metrics', () => {
    it('counts sign-ins by method and outcome, with every series present from start-up', async () => {
      const value = async (series: string) => {
        const text = await (await fetch(`${h.running.managementUrl}/metrics`)).text();
        const line = text.split('\n').find((l) => l.startsWith(series));
        return line === undefined ? undefined : Number(line.split(' ').pop());
      };
      const ok = 'parley_auth_logins_total{method="password",outcome="success",service="parley-auth"}';
      const bad = 'parley_auth_logins_total{method="password",outcome="invalid",service="parley-auth"}';
      expect(
        await value('parley_auth_logins_total{method="github",outcome="reused",service="parley-auth"}'),
      ).to.equal(0);
      const [ok0, bad0] = [(await value(ok))!, (await value(bad))!];
      const r = await register();
      await call('POST', '/v1/auth/login', { body: { login: r.user.username, password: PASSWORD } });
      await call('POST', '/v1/auth/login', {
        body: { login: r.user.username, password: 'wrong wrong wrong' },
      });
      expect(await value(ok)).to.equal(ok0 + 1);
      expect(await value(bad)).to.equal(bad0 + 1);
    });
  });
}

export function eventCases(h: AuthHarness): void {
  const { register } = h;
  describe('events', () => {
    it('writes versioned envelopes to user.events keyed by user id', async () => {
      const seen: Record<string, unknown>[] = [];
      const sub = await h.running.deps().events.subscribe({
        groupId: `test-${randomUUID()}`,
        topics: ['user.events'],
        fromBeginning: true,
        handler: async (batch) =>
          void seen.push(
            ...batch.map((r) => ({ key: r.key, ...(JSON.parse(r.value.toString()) as object) })),
          ),
      });
      try {
        const r = await register();
        const ev = await waitFor(
          () =>
            seen.find(
              (e) => e.type === 'user.registered' && (e.data as { userId: string }).userId === r.user.id,
            ),
          {
            timeoutMs: 30_000,
            what: 'user.registered event',
          },
        );
        expect(ev).to.include({ key: r.user.id, version: 1 });
        expect(ev.id).to.be.a('string');
        expect(ev.occurredAt).to.be.a('string');
      } finally {
        await sub.stop();
      }
    });
  });
}

export function documentCases(h: AuthHarness): void {
  it('documents every route it serves in a valid OpenAPI 3.1 document', async () => {
    const doc = await validOpenApi(h.running);
    expect(Object.keys(doc.paths)).to.include.members([
      '/v1/auth/register',
      '/v1/auth/login',
      '/v1/auth/refresh',
      '/.well-known/jwks.json',
      '/v1/users/me/devices/{id}',
    ]);
  });

  it('states in the document the bounds the validators enforce', async () => {
    const doc = (await h.running.inject({ method: 'GET', url: '/v1/openapi.json' })).json();
    const body = (path: string, method: string) =>
      doc.paths[path][method].requestBody.content['application/json'].schema;
    expect(body('/v1/auth/register', 'post').properties.password).to.include({
      minLength: 10,
      maxLength: 256,
    });
    expect(body('/v1/users/me', 'patch')).to.include({ minProperties: 1 });
    expect(body('/v1/users/me', 'patch').properties.displayName).to.include({
      maxLength: 64,
      pattern: '\\S',
    });
    expect(doc.paths['/v1/auth/register'].post.responses['422'].description).to.equal(
      '`WEAK_PASSWORD`, `DISPLAY_NAME_IMPERSONATION`',
    );
    expect(doc.paths['/v1/users/me'].get.responses).to.have.property('431');
  });
}
