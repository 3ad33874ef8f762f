import { expect } from 'chai';
import { ParleyApiError, ParleyClient } from '@parley/client';
import type { Running } from '@parley/common';
import { startEmbedded } from './testkit.ts';

describe('client SDK against an embedded server', function () {
  this.timeout(20_000);
  let running: Running;
  let stop: () => Promise<void>;
  let client: ParleyClient;

  before(async () => {
    ({ running, stop } = await startEmbedded('client'));
    client = new ParleyClient({ baseUrl: running.url + '/' });
  });
  after(async () => {
    await stop();
  });

  it('reads liveness', async () => {
    expect(await client.alive()).to.equal(true);
  });

  it('turns a problem+json answer into ParleyApiError with the stable code', async () => {
    const err = await client.request('GET', '/v1/nothing-here').catch((e: unknown) => e);
    expect(err).to.be.instanceOf(ParleyApiError);
    expect((err as ParleyApiError).code).to.equal('NOT_FOUND');
    expect((err as ParleyApiError).status).to.equal(404);
  });

  it('reports a dead server as not alive', async () => {
    expect(await new ParleyClient({ baseUrl: 'http://127.0.0.1:9', timeoutMs: 1000 }).alive()).to.equal(
      false,
    );
  });
});
