import { BlockList, isIP, type LookupFunction } from 'node:net';

/**
 * Which Web Push endpoints the server will POST to (SSRF): a subscription's endpoint comes from a
 * client, so it must be https on a known push service, never an address inside the cluster. Pure
 * apart from the DNS lookup guard, which takes the resolver as a parameter.
 */

/** The browsers' push services (Chrome/FCM, Firefox/Mozilla autopush, Edge/WNS, Safari/Apple). */
export const DEFAULT_PUSH_HOSTS = [
  'fcm.googleapis.com',
  'android.googleapis.com',
  'updates.push.services.mozilla.com',
  '*.notify.windows.com',
  'web.push.apple.com',
  '*.push.apple.com',
] as const;

/** Addresses no push endpoint may reach unless listed exactly: private, loopback, link-local, … */
const internal = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  internal.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['64:ff9b::', 96],
] as const)
  internal.addSubnet(net, prefix, 'ipv6');

/** Whether an IP address is internal (IPv4-mapped IPv6 is judged as the IPv4 it carries). */
export function isInternalAddress(ip: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return internal.check(mapped[1]!, 'ipv4');
  const v = isIP(ip);
  if (v === 0) return true;
  return internal.check(ip, v === 4 ? 'ipv4' : 'ipv6');
}

/** A host as URL parsing leaves it, lower case and without IPv6 brackets. */
const bare = (host: string) => host.toLowerCase().replace(/^\[(.*)\]$/, '$1');

export class PushEndpointPolicy {
  private readonly exact = new Set<string>();
  private readonly suffixes: string[] = [];

  /** `hosts`: names (`fcm.googleapis.com`), wildcards (`*.notify.windows.com`) or exact IPs. */
  constructor(hosts: readonly string[]) {
    for (const h of hosts.map(bare))
      if (h.startsWith('*.')) this.suffixes.push(h.slice(1));
      else this.exact.add(h);
  }

  /** Whether the operator listed this host or address itself (not through a wildcard). */
  listedExactly(host: string): boolean {
    return this.exact.has(bare(host));
  }

  /** Why an endpoint is refused, or undefined when the server may push to it. */
  problem(endpoint: string): string | undefined {
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      return 'endpoint is not a URL';
    }
    if (url.protocol !== 'https:') return 'endpoint must be https';
    if (url.username || url.password) return 'endpoint must not carry credentials';
    const host = bare(url.hostname);
    if (this.exact.has(host)) return undefined;
    if (isIP(host))
      return isInternalAddress(host)
        ? `endpoint host ${host} is a private, loopback or link-local address`
        : `endpoint host ${host} is an IP address, not a push service`;
    if (this.suffixes.some((s) => host.endsWith(s) && host.length > s.length)) return undefined;
    return `endpoint host ${host} is not a known push service (WEB_PUSH_ALLOWED_HOSTS)`;
  }

  /**
   * A `lookup` for the push HTTPS agent: a name that resolves to an internal address is refused
   * (DNS rebinding), unless the operator listed that very address.
   */
  guardLookup(resolve: LookupFunction): LookupFunction {
    return (hostname, options, callback) => {
      resolve(hostname, options, (err, address, family) => {
        if (err) return callback(err, address, family);
        const all = Array.isArray(address) ? address.map((a) => a.address) : [address];
        const bad = all.find((a) => isInternalAddress(a) && !this.listedExactly(a));
        if (bad !== undefined)
          return callback(
            Object.assign(new Error(`push endpoint ${hostname} resolves to internal address ${bad}`), {
              code: 'EPUSHINTERNAL',
            }),
            address,
            family,
          );
        callback(null, address, family);
      });
    };
  }
}
