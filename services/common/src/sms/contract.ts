import { expect } from 'chai';
import { SmsError, type Sms } from './port.ts';

/** The cases every SMS adapter must pass. `delivered` reads what the provider (or log) received. */
export function smsContract(
  name: string,
  open: () => Promise<{
    sms: Sms;
    delivered: () => { to: string; body: string }[];
    close?: () => Promise<void>;
  }>,
): void {
  describe(`SMS contract: ${name}`, () => {
    let ctx: Awaited<ReturnType<typeof open>>;
    before(async () => {
      ctx = await open();
    });
    after(async () => {
      await ctx?.close?.();
    });

    it('sends a text and returns the provider id', async () => {
      const { id } = await ctx.sms.send('+4712345678', 'Your Parley code is 123456');
      expect(id).to.be.a('string').with.length.greaterThan(5);
      expect(ctx.delivered().at(-1)).to.deep.include({
        to: '+4712345678',
        body: 'Your Parley code is 123456',
      });
    });

    for (const bad of ['12345678', '+0123456789', '+47 1234 5678', '', '+1234']) {
      it(`refuses the malformed number "${bad}" without sending`, async () => {
        const before = ctx.delivered().length;
        const err = await ctx.sms.send(bad, 'x').then(
          () => null,
          (e: unknown) => e,
        );
        expect(err).to.be.instanceOf(SmsError);
        expect((err as SmsError).code).to.equal('INVALID_NUMBER');
        expect(ctx.delivered().length).to.equal(before);
      });
    }

    it('refuses an empty or oversize body', async () => {
      for (const body of ['', 'x'.repeat(1601)]) {
        const err = await ctx.sms.send('+4712345678', body).then(
          () => null,
          (e: unknown) => e,
        );
        expect((err as SmsError).code).to.equal('BODY_TOO_LONG');
      }
    });
  });
}
