import { expect } from 'chai';
import type { LookupFunction } from 'node:net';
import { DEFAULT_PUSH_HOSTS, isInternalAddress, PushEndpointPolicy } from './pushendpoint.ts';

describe('push endpoint policy (SSRF)', () => {
  const defaults = new PushEndpointPolicy(DEFAULT_PUSH_HOSTS);
  const cases: [string, PushEndpointPolicy, string, string | undefined][] = [
    ['Chrome (FCM)', defaults, 'https://fcm.googleapis.com/fcm/send/abc', undefined],
    ['Firefox', defaults, 'https://updates.push.services.mozilla.com/wpush/v2/x', undefined],
    [
      'Edge (a WNS pool under the wildcard)',
      defaults,
      'https://wns2-par02p.notify.windows.com/w/?token=x',
      undefined,
    ],
    ['Safari', defaults, 'https://web.push.apple.com/QGx', undefined],
    ['host names are case-insensitive', defaults, 'https://FCM.googleapis.com/x', undefined],
    [
      'the wildcard does not match its bare domain',
      defaults,
      'https://notify.windows.com/x',
      'endpoint host notify.windows.com is not a known push service (WEB_PUSH_ALLOWED_HOSTS)',
    ],
    [
      'a look-alike suffix',
      defaults,
      'https://evilnotify.windows.com.attacker.io/x',
      'endpoint host evilnotify.windows.com.attacker.io is not a known push service (WEB_PUSH_ALLOWED_HOSTS)',
    ],
    ['plain http', defaults, 'http://fcm.googleapis.com/x', 'endpoint must be https'],
    [
      'credentials in the URL',
      defaults,
      'https://u:p@fcm.googleapis.com/x',
      'endpoint must not carry credentials',
    ],
    [
      'an unknown host',
      defaults,
      'https://push.example/x',
      'endpoint host push.example is not a known push service (WEB_PUSH_ALLOWED_HOSTS)',
    ],
    [
      'loopback',
      defaults,
      'https://127.0.0.1:8443/push',
      'endpoint host 127.0.0.1 is a private, loopback or link-local address',
    ],
    [
      'the metadata service (link-local)',
      defaults,
      'https://169.254.169.254/latest',
      'endpoint host 169.254.169.254 is a private, loopback or link-local address',
    ],
    [
      'a cluster address',
      defaults,
      'https://10.96.0.1/x',
      'endpoint host 10.96.0.1 is a private, loopback or link-local address',
    ],
    [
      'IPv6 loopback',
      defaults,
      'https://[::1]/x',
      'endpoint host ::1 is a private, loopback or link-local address',
    ],
    [
      'IPv4-mapped IPv6 loopback',
      defaults,
      'https://[::ffff:127.0.0.1]/x',
      'endpoint host ::ffff:7f00:1 is a private, loopback or link-local address',
    ],
    [
      'a public IP',
      defaults,
      'https://8.8.8.8/x',
      'endpoint host 8.8.8.8 is an IP address, not a push service',
    ],
    [
      'a local endpoint the operator listed (tests)',
      new PushEndpointPolicy(['127.0.0.1']),
      'https://127.0.0.1:8443/push/1',
      undefined,
    ],
    ['not a URL', defaults, 'fcm.googleapis.com/x', 'endpoint is not a URL'],
  ];
  for (const [name, policy, endpoint, want] of cases)
    it(`${name}: ${want ?? 'allowed'}`, () => expect(policy.problem(endpoint)).to.equal(want));

  it('judges addresses: internal ranges of both families', () => {
    const internal = [
      '10.1.2.3',
      '172.31.0.1',
      '192.168.1.1',
      '127.0.0.2',
      '169.254.1.1',
      '100.64.0.1',
      '0.0.0.0',
      'fe80::1',
      'fd00::1',
      '::1',
      '::ffff:10.0.0.1',
      'nonsense',
    ];
    const external = ['8.8.8.8', '142.250.74.10', '2a00:1450:4007:80e::200a', '::ffff:8.8.8.8'];
    expect(internal.filter((a) => !isInternalAddress(a))).to.deep.equal([]);
    expect(external.filter((a) => isInternalAddress(a))).to.deep.equal([]);
  });

  describe('the lookup guard (DNS rebinding)', () => {
    const resolver =
      (address: string): LookupFunction =>
      (_h, _o, cb) =>
        cb(null, address, address.includes(':') ? 6 : 4);
    const run = (policy: PushEndpointPolicy, address: string) =>
      new Promise<string>((resolve) =>
        policy.guardLookup(resolver(address))('fcm.googleapis.com', {}, (err, a) =>
          resolve(err ? `${(err as Error & { code: string }).code}: ${err.message}` : String(a)),
        ),
      );
    it('passes a public address', async () =>
      expect(await run(defaults, '142.250.74.10')).to.equal('142.250.74.10'));
    it('refuses a known host that resolves inside', async () =>
      expect(await run(defaults, '10.0.0.5')).to.equal(
        'EPUSHINTERNAL: push endpoint fcm.googleapis.com resolves to internal address 10.0.0.5',
      ));
    it('passes an internal address the operator listed', async () =>
      expect(await run(new PushEndpointPolicy([...DEFAULT_PUSH_HOSTS, '10.0.0.5']), '10.0.0.5')).to.equal(
        '10.0.0.5',
      ));
  });
});
