import { expect } from 'chai';
import { createLogger, loadConfig, redactConfig } from '@parley/common';
import { authSettings } from '../config.ts';
import { mailerOf } from '../module.ts';
import { emailVerifySubject, verificationLink, verificationMail } from './verification-mail.ts';

describe('email verification mail', () => {
  it('carries the code, the link and the lifetime, in text and HTML', () => {
    const m = verificationMail({
      username: 'alice',
      code: '042917',
      link: 'https://chat.example/verify-email?token=abc',
      ttlSec: 3600,
    });
    expect(m.subject).to.equal('Your Parley email code: 042917');
    expect(m.text).to.equal(
      [
        'Hello alice,',
        '',
        'Your Parley email code is 042917. Enter it in Parley to confirm this address.',
        '',
        'Or open this link while signed in: https://chat.example/verify-email?token=abc',
        '',
        'It expires in 60 minutes and works once. If you did not ask for it, ignore this mail: nothing changes.',
      ].join('\n'),
    );
    expect(m.html)
      .to.contain('<strong>042917</strong>')
      .and.contain('href="https://chat.example/verify-email?token=abc"');
  });

  it('has no link line without a link URL, and never rounds the lifetime to 0 minutes', () => {
    const m = verificationMail({ username: 'bob', code: '000001', ttlSec: 20 });
    expect(m.text).to.not.contain('link');
    expect(m.html).to.not.contain('<a ');
    expect(m.text).to.contain('expires in 1 minute and');
  });

  it('escapes what it puts into HTML', () => {
    const m = verificationMail({
      username: 'a<b>&"c',
      code: '123456',
      link: 'https://x.test/?a="b"',
      ttlSec: 300,
    });
    expect(m.html)
      .to.contain('Hello a&lt;b&gt;&amp;&quot;c,')
      .and.contain('href="https://x.test/?a=&quot;b&quot;"');
    expect(m.html).to.not.contain('<b>');
  });

  const links: [string, string][] = [
    ['https://chat.example/verify-email', 'https://chat.example/verify-email?token=T0k'],
    ['https://chat.example/v?lang=nb', 'https://chat.example/v?lang=nb&token=T0k'],
    ['https://chat.example/v?token=old#top', 'https://chat.example/v?token=T0k#top'],
  ];
  for (const [base, want] of links)
    it(`links ${base} → ${want}`, () => expect(verificationLink(base, 'T0k')).to.equal(want));

  it('issues codes per user, change and address, so none stands in for another', () => {
    const subjects = new Set([
      emailVerifySubject('u1', undefined, 'a@x.test'),
      emailVerifySubject('u1', 'r1', 'a@x.test'),
      emailVerifySubject('u1', 'r2', 'a@x.test'),
      emailVerifySubject('u2', 'r1', 'a@x.test'),
      emailVerifySubject('u1', 'r1', 'b@x.test'),
    ]);
    expect(subjects.size).to.equal(5);
    expect(emailVerifySubject('u1', undefined, 'a@x.test')).to.equal('verify-email:u1:-:a@x.test');
  });
});

describe('verification mailer selection', () => {
  const logger = createLogger({ level: 'silent', name: 't' });
  const cases: [string, Record<string, string>, string | undefined][] = [
    ['SMTP_URL set', { SMTP_URL: 'smtp://mail.example:587', MONGO_URL: 'mongodb://db:27017/p' }, 'smtp'],
    ['embedded without SMTP_URL: the log', {}, 'console'],
    [
      'a cluster without SMTP_URL: none (EMAIL_DISABLED, no codes in logs)',
      { MONGO_URL: 'mongodb://db:27017/p' },
      undefined,
    ],
  ];
  for (const [what, env, kind] of cases)
    it(what, async () => {
      const mailer = await mailerOf(loadConfig(authSettings, env), logger);
      expect(mailer?.kind).to.equal(kind);
      await mailer?.close();
    });

  it('shares SMTP_URL (a secret) and SMTP_FROM with the notifier', () => {
    const cfg = loadConfig(authSettings, {
      SMTP_URL: 'smtp://u:pw@mail.example:587',
      SMTP_FROM: 'P <p@x.test>',
    });
    expect(cfg.smtp).to.deep.equal({ url: 'smtp://u:pw@mail.example:587', from: 'P <p@x.test>' });
    expect(JSON.stringify(redactConfig(authSettings, cfg))).to.not.contain('pw@');
  });
});
