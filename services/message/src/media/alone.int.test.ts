import { expect } from 'chai';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { authModule, authSettings, generateSigningJwk } from '@parley/auth';
import type { Infer, Running } from '@parley/common';
import { runService } from '@parley/common/service';
import { messageSettings } from '../config.ts';
import { mediaModule } from './module.ts';

/** The media role in its own process, as the chart runs it: tokens are verified through the JWKS. */
describe('media role alone (ROLE=media)', () => {
  let dir: string;
  let auth: Running | undefined;
  let media: Running | undefined;
  const spec = messageSettings;
  const mediaEnv = (extra: Record<string, string>) => ({
    PORT: '0',
    MANAGEMENT_PORT: '0',
    LOG_LEVEL: 'silent',
    ROLE: 'media',
    DATA_DIR: join(dir, 'media'),
    ...extra,
  });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-media-alone-'));
    auth = await runService({
      name: 'parley-auth',
      spec: authSettings,
      env: {
        PORT: '0',
        MANAGEMENT_PORT: '0',
        LOG_LEVEL: 'silent',
        DATA_DIR: join(dir, 'auth'),
        JWT_SIGNING_KEYS: JSON.stringify([await generateSigningJwk('k')]),
      },
      modules: () => [authModule<Infer<typeof authSettings>>()],
    });
    await auth.ready;
  });

  after(async () => {
    await media?.stop('test');
    await auth?.stop('test');
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses to start without AUTH_JWKS_URL, naming the setting', async () => {
    const failed = await runService({
      name: 'parley-message',
      spec,
      env: mediaEnv({}),
      modules: () => [mediaModule<Infer<typeof spec>>()],
    }).then(
      () => 'started',
      (err: unknown) => String(err),
    );
    expect(failed).to.include(
      'in jwt.jwksUrl (AUTH_JWKS_URL): is required when the auth service runs elsewhere',
    );
  });

  it("accepts the auth service's access tokens and refuses requests without one", async () => {
    media = await runService({
      name: 'parley-message',
      spec,
      env: mediaEnv({ AUTH_JWKS_URL: `${auth!.url}/.well-known/jwks.json` }),
      modules: () => [mediaModule<Infer<typeof spec>>()],
    });
    await media.ready;
    const res = await fetch(`${auth!.url}/v1/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        username: `m_${randomBytes(4).toString('hex')}`,
        password: 'a long and unusual passphrase',
      }),
    });
    const { tokens } = (await res.json()) as { tokens: { accessToken: string } };
    const path = `/v1/media/${randomUUID()}`;
    const anonymous = await fetch(media.url + path);
    expect(anonymous.status).to.equal(401);
    const known = await fetch(media.url + path, {
      headers: { authorization: `Bearer ${tokens.accessToken}` },
    });
    expect(known.status).to.equal(404);
    expect(((await known.json()) as { code: string }).code).to.equal('ATTACHMENT_NOT_FOUND');
  });
});
