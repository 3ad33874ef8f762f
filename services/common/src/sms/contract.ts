import { expect } from 'chai';
import { adapterUnderTest } from '../testing/contract.ts';
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
    const adapter = adapterUnderTest(open);

    it('sends a text and returns the provider id', async () => {
      const { id } = await adapter().sms.send('+4712345678', 'Your Parley code is 123456');
      expect(id).to.be.a('string').with.length.greaterThan(5);
      expect(adapter().delivered().at(-1)).to.deep.include({
        to: '+4712345678',
        body: 'Your Parley code is 123456',
      });
    });

    for (const bad of ['12345678', '+0123456789', '+47 1234 5678', '', '+1234']) {
      it(`refuses the malformed number "${bad}" without sending`, async () => {
        const before = adapter().delivered().length;
        const err = await adapter()
          .sms.send(bad, 'x')
          .then(
            () => null,
            (e: unknown) => e,
          );
        expect(err).to.be.instanceOf(SmsError);
        expect((err as SmsError).code).to.equal('INVALID_NUMBER');
        expect(adapter().delivered().length).to.equal(before);
      });
    }

    it('refuses an empty or oversize body', async () => {
      for (const body of ['', 'x'.repeat(1601)]) {
        const err = await adapter()
          .sms.send('+4712345678', body)
          .then(
            () => null,
            (e: unknown) => e,
          );
        expect((err as SmsError).code).to.equal('BODY_TOO_LONG');
      }
    });
  });
}
