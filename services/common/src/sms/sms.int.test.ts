import { expect } from 'chai';
import { FakeTwilio } from '../testing/fake-twilio.ts';
import { smsContract } from './contract.ts';
import type { SmsError } from './port.ts';
import { TwilioSms } from './twilio.ts';

// Twilio is third-party SaaS: its adapter runs against a local server speaking Twilio's API.
smsContract('Twilio (against a local fake of its API)', async () => {
  const fake = new FakeTwilio();
  const baseUrl = await fake.start();
  const sms = new TwilioSms({
    accountSid: fake.accountSid,
    authToken: fake.authToken,
    from: '+15005550006',
    baseUrl,
  });
  return { sms, delivered: () => fake.messages, close: () => fake.stop() };
});

describe('TwilioSms error mapping', () => {
  let fake: FakeTwilio;
  let baseUrl: string;
  before(async () => {
    fake = new FakeTwilio();
    baseUrl = await fake.start();
  });
  after(() => fake.stop());

  it('maps Twilio error 21211 to INVALID_NUMBER', async () => {
    const sms = new TwilioSms({
      accountSid: fake.accountSid,
      authToken: fake.authToken,
      from: '+15005550006',
      baseUrl,
    });
    const err = await sms.send('+15005550001', 'hi').catch((e: unknown) => e);
    expect((err as SmsError).code).to.equal('INVALID_NUMBER');
  });

  it('maps bad credentials to PROVIDER_REJECTED', async () => {
    const sms = new TwilioSms({
      accountSid: fake.accountSid,
      authToken: 'wrong',
      from: '+15005550006',
      baseUrl,
    });
    const err = await sms.send('+4712345678', 'hi').catch((e: unknown) => e);
    expect((err as SmsError).code).to.equal('PROVIDER_REJECTED');
  });

  it('maps an unreachable provider to PROVIDER_UNAVAILABLE', async () => {
    const sms = new TwilioSms({
      accountSid: fake.accountSid,
      authToken: fake.authToken,
      from: '+15005550006',
      baseUrl: 'http://127.0.0.1:9',
    });
    const err = await sms.send('+4712345678', 'hi').catch((e: unknown) => e);
    expect((err as SmsError).code).to.equal('PROVIDER_UNAVAILABLE');
  });

  it('uses a messaging service instead of a from number when configured', async () => {
    const sms = new TwilioSms({
      accountSid: fake.accountSid,
      authToken: fake.authToken,
      messagingServiceSid: 'MG1',
      baseUrl,
    });
    await sms.send('+4712345678', 'via service');
    expect(fake.messages.at(-1)).to.deep.include({ to: '+4712345678', body: 'via service' });
  });
});
