import { expect } from 'chai';
import {
  closeWindow,
  collapse,
  decide,
  defaultPrefs,
  inQuietHours,
  quietHoursError,
  type NotifyPrefs,
  type RecipientFacts,
  type WindowState,
} from './decide.ts';

const NOW = Date.parse('2026-12-04T12:00:00Z');
const MIN = 60_000;

const member = (userId: string, over: Partial<RecipientFacts> = {}): RecipientFacts => ({
  userId,
  online: false,
  blockedSender: false,
  prefs: defaultPrefs,
  hasEmail: true,
  devices: { web: 1, mobile: 1 },
  ...over,
});
const prefs = (over: Partial<NotifyPrefs>): NotifyPrefs => ({ ...defaultPrefs, ...over });
const plan = (r: RecipientFacts) =>
  decide({ senderId: 'alice', conversationId: 'c1', recipients: [r], now: NOW, windowMs: MIN });

describe('notify decide: who is notified of a message', () => {
  const cases: [string, RecipientFacts, string][] = [
    ['never the sender', member('alice'), 'skip sender'],
    ['nobody with a live socket on any pod', member('bob', { online: true }), 'skip online'],
    ['nobody who blocked the sender', member('bob', { blockedSender: true }), 'skip blocked'],
    [
      'nobody who muted the conversation',
      member('bob', { prefs: prefs({ muted: [{ conversationId: 'c1' }] }) }),
      'skip muted',
    ],
    [
      'a mute that ended no longer silences',
      member('bob', { prefs: prefs({ muted: [{ conversationId: 'c1', until: '2026-12-04T11:00:00Z' }] }) }),
      'open web,mobile email=instant',
    ],
    [
      'a mute of another conversation does not count',
      member('bob', { prefs: prefs({ muted: [{ conversationId: 'c2' }] }) }),
      'open web,mobile email=instant',
    ],
    ['an offline member: every class with a device', member('bob'), 'open web,mobile email=instant'],
    [
      'no push without a device',
      member('bob', { devices: { web: 0, mobile: 1 } }),
      'open mobile email=instant',
    ],
    [
      'a class turned off is not pushed',
      member('bob', { prefs: prefs({ web: false }) }),
      'open mobile email=instant',
    ],
    ['no email address: no mail', member('bob', { hasEmail: false }), 'open web,mobile email=off'],
    [
      'digest preference carried',
      member('bob', { prefs: prefs({ email: 'digest' }) }),
      'open web,mobile email=digest',
    ],
    [
      'quiet hours: stored and counted, nothing pushed now',
      member('bob', { prefs: prefs({ quietHours: { start: '11:00', end: '13:00', timeZone: 'UTC' } }) }),
      'open - email=instant quiet',
    ],
    [
      'a second message within the window folds (no push)',
      member('bob', { window: { openedAt: NOW - 30_000, count: 1 } }),
      'fold - email=instant',
    ],
    [
      'a message after the window opens a new one',
      member('bob', { window: { openedAt: NOW - MIN, count: 7 } }),
      'open web,mobile email=instant',
    ],
  ];
  for (const [name, r, want] of cases)
    it(name, () => {
      const p = plan(r);
      const got = p.skipped[0]
        ? `skip ${p.skipped[0].reason}`
        : `${p.notify[0]!.collapse} ${p.notify[0]!.pushNow.join(',') || '-'} email=${p.notify[0]!.email}${p.notify[0]!.quiet ? ' quiet' : ''}`;
      expect(got).to.equal(want);
    });

  it('20 messages in a minute: one push, then one "20 new messages"', () => {
    let window: RecipientFacts['window'];
    const pushes: string[] = [];
    for (let i = 0; i < 20; i++) {
      const p = decide({
        senderId: 'alice',
        conversationId: 'c1',
        recipients: [member('bob', { window })],
        now: NOW + i * 2_900,
        windowMs: MIN,
      });
      const d = p.notify[0]!;
      pushes.push(...d.pushNow);
      window = d.window;
    }
    expect(pushes).to.deep.equal(['web', 'mobile']);
    const w: WindowState = {
      ...window!,
      userId: 'bob',
      conversationId: 'c1',
      pushed: ['web', 'mobile'],
      email: 'instant',
      lastMessageId: 'm20',
    };
    const closing = closeWindow(w, { quiet: false, prefs: defaultPrefs, devices: { web: 1, mobile: 1 } });
    expect(closing).to.deep.equal({
      summaryPush: ['web', 'mobile'],
      email: 'instant',
      text: '20 new messages',
    });
  });
});

describe('notify decide: closing a collapse window', () => {
  const w = (over: Partial<WindowState>): WindowState => ({
    openedAt: NOW - MIN,
    count: 1,
    userId: 'bob',
    conversationId: 'c1',
    pushed: ['web'],
    email: 'instant',
    lastMessageId: 'm1',
    preview: 'hello',
    ...over,
  });
  const awake = { quiet: false, prefs: defaultPrefs, devices: { web: 1, mobile: 0 } };
  const cases: [string, WindowState, typeof awake, string][] = [
    ['a lone message already pushed: no summary, one mail with its text', w({}), awake, '- instant hello'],
    ['a burst: summary push and one mail', w({ count: 3 }), awake, 'web instant 3 new messages'],
    ['opened in quiet hours, now awake: the burst is pushed', w({ pushed: [] }), awake, 'web instant hello'],
    [
      'still quiet: nothing pushed, the mail goes to the digest',
      w({ count: 2 }),
      { ...awake, quiet: true },
      '- digest 2 new messages',
    ],
    ['email turned off since: no mail', w({}), { ...awake, prefs: prefs({ email: 'off' }) }, '- none hello'],
  ];
  for (const [name, win, now, want] of cases)
    it(name, () => {
      const c = closeWindow(win, now);
      expect(`${c.summaryPush.join(',') || '-'} ${c.email} ${c.text}`).to.equal(want);
    });
});

describe('notify decide: quiet hours and collapse windows', () => {
  const cases: [string, string, string, string, boolean][] = [
    ['inside a same-day range', '09:00', '17:00', '2026-12-04T12:00:00Z', true],
    ['at the end (exclusive)', '09:00', '12:00', '2026-12-04T12:00:00Z', false],
    ['spanning midnight, late', '22:00', '07:00', '2026-12-04T23:30:00Z', true],
    ['spanning midnight, early', '22:00', '07:00', '2026-12-04T06:59:00Z', true],
    ['spanning midnight, daytime', '22:00', '07:00', '2026-12-04T12:00:00Z', false],
    ['equal start and end: never', '08:00', '08:00', '2026-12-04T08:00:00Z', false],
  ];
  for (const [name, start, end, at, want] of cases)
    it(`${name} (UTC)`, () =>
      expect(inQuietHours({ start, end, timeZone: 'UTC' }, Date.parse(at))).to.equal(want));

  it('reads the wall clock in the user’s time zone', () => {
    // 12:00 UTC is 21:00 in Tokyo.
    expect(inQuietHours({ start: '20:00', end: '23:00', timeZone: 'Asia/Tokyo' }, NOW)).to.equal(true);
    expect(inQuietHours({ start: '20:00', end: '23:00', timeZone: 'UTC' }, NOW)).to.equal(false);
  });

  const errors: [string, { start: string; end: string; timeZone: string }, string | undefined][] = [
    ['a valid value', { start: '22:00', end: '07:30', timeZone: 'Europe/Paris' }, undefined],
    [
      'an hour past 23',
      { start: '24:00', end: '07:00', timeZone: 'UTC' },
      'quietHours.start "24:00" must be HH:MM (00:00-23:59)',
    ],
    [
      'a bad end',
      { start: '22:00', end: '7:00', timeZone: 'UTC' },
      'quietHours.end "7:00" must be HH:MM (00:00-23:59)',
    ],
    [
      'an unknown zone',
      { start: '22:00', end: '07:00', timeZone: 'Mars/Olympus' },
      'quietHours.timeZone "Mars/Olympus" is not an IANA time zone',
    ],
  ];
  for (const [name, q, want] of errors)
    it(`validates quiet hours: ${name}`, () => expect(quietHoursError(q)).to.equal(want));

  it('collapse: opens, folds within the window, reopens after it', () => {
    const a = collapse(undefined, NOW, MIN);
    const b = collapse(a.window, NOW + MIN - 1, MIN);
    const c = collapse(b.window, NOW + MIN, MIN);
    expect([a.collapse, b.collapse, b.window.count, c.collapse, c.window.count]).to.deep.equal([
      'open',
      'fold',
      2,
      'open',
      1,
    ]);
  });
});
