import { expect } from 'chai';
import { ParleyApiError, ParleyClient } from './client.ts';

/** Records each request; answers a code request with 202 and a proof with the account, or `problem`. */
function fakeServer(problem?: { status: number; code: string }) {
  const seen: string[] = [];
  const fetchFn = (async (url: string, init: RequestInit) => {
    const u = new URL(url);
    const body = init.body === undefined ? '' : ` ${String(init.body)}`;
    seen.push(`${init.method} ${u.pathname}${body}`);
    if (problem)
      return new Response(JSON.stringify({ ...problem, title: 'x', detail: 'retry in 2 s' }), {
        status: problem.status,
        headers: { 'content-type': 'application/problem+json' },
      });
    const answer = u.pathname.endsWith('/verification')
      ? { expiresInSec: 3600, resendInSec: 30 }
      : { id: 'u1', username: 'alice', email: 'a@x.test' };
    return new Response(JSON.stringify(answer), {
      status: u.pathname.endsWith('/verification') ? 202 : 200,
      headers: { 'content-type': 'application/json' },
    });
  }) as unknown as typeof fetch;
  return { seen, client: new ParleyClient({ baseUrl: 'http://api', fetch: fetchFn }) };
}

describe('ParleyClient email verification', () => {
  it('asks for a mailed code, then proves the address with the code or the link token', async () => {
    const { seen, client } = fakeServer();
    expect(await client.requestEmailVerification()).to.deep.equal({ expiresInSec: 3600, resendInSec: 30 });
    expect((await client.verifyEmail({ code: '042917' })).email).to.equal('a@x.test');
    await client.verifyEmail({ token: 'T'.repeat(43) });
    expect(seen).to.deep.equal([
      'POST /v1/users/me/email/verification',
      'POST /v1/users/me/email/verify {"code":"042917"}',
      `POST /v1/users/me/email/verify {"token":"${'T'.repeat(43)}"}`,
    ]);
  });

  it('throws the problem’s stable code (OTP_COOLDOWN, INVALID_OTP …) as a ParleyApiError', async () => {
    for (const [status, code] of [
      [429, 'OTP_COOLDOWN'],
      [401, 'INVALID_OTP'],
      [409, 'EMAIL_TAKEN'],
    ] as const) {
      const { client } = fakeServer({ status, code });
      const err = await client.verifyEmail({ code: '000000' }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(ParleyApiError);
      expect([(err as ParleyApiError).status, (err as ParleyApiError).code]).to.deep.equal([status, code]);
    }
  });
});
