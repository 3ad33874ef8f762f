import { Construct } from 'constructs';
import type { Knobs } from './knobs.ts';
import type { Json } from './pod.ts';

/** A port, or a range up to `endPort`. */
export interface PolicyPort {
  readonly port: number;
  readonly endPort?: number;
  /** @default 'TCP' */
  readonly protocol?: 'TCP' | 'UDP';
}

/** Who may talk to whom: a component of this release, or peers outside it. */
export type Peer =
  | { readonly component: string }
  | {
      /** Values path of a namespaceSelector. */
      readonly namespaces: string;
      /** Values path of a podSelector in those namespaces. @default every pod */
      readonly pods?: string;
      readonly label: string;
    }
  | { readonly dns: true }
  | { readonly apiServer: true }
  /** Servers outside the cluster (S3, SMTP, push services), named for the policy: any address. */
  | { readonly external: string };

export interface Allow {
  readonly from: Peer;
  readonly to: Peer;
  readonly ports: readonly PolicyPort[];
  /** Present only under this condition (helm expression and its plain value). @default always */
  readonly when?: { readonly helm: string; readonly holds: boolean };
}

export interface NetworkPoliciesProps {
  readonly allows: readonly Allow[];
}

/**
 * A default-deny policy for every pod of the release, DNS for all, and for every allowed edge an
 * ingress policy on the receiving pods and an egress policy on the sending pods, with exact ports.
 */
export class NetworkPolicies extends Construct {
  constructor(scope: Construct, id: string, k: Knobs, props: NetworkPoliciesProps) {
    super(scope, id);
    const release = { 'app.kubernetes.io/name': 'parley', 'app.kubernetes.io/instance': k.releaseName };
    const policy = (name: string, podSelector: Json, spec: Json) =>
      k.emit(this, name, {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: k.meta(k.name(name), 'network-policy'),
        spec: { podSelector, ...spec },
      });
    const ports = (list: readonly PolicyPort[]) =>
      list.map((p) => ({
        protocol: p.protocol ?? 'TCP',
        port: p.port,
        ...(p.endPort ? { endPort: p.endPort } : {}),
      }));
    const peer = (p: Peer): Json => {
      if ('component' in p) return { podSelector: { matchLabels: k.selector(p.component) } };
      if ('namespaces' in p)
        return {
          namespaceSelector: k.block(p.namespaces),
          ...(p.pods ? { podSelector: k.block(p.pods) } : {}),
        };
      if ('dns' in p)
        return { namespaceSelector: {}, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } };
      return { ipBlock: { cidr: '0.0.0.0/0' } };
    };
    const label = (p: Peer): string =>
      'component' in p
        ? p.component
        : 'namespaces' in p
          ? p.label
          : 'dns' in p
            ? 'dns'
            : 'external' in p
              ? p.external
              : 'apiserver';

    k.when('networkPolicy.enabled', () => {
      policy('default-deny', { matchLabels: release }, { policyTypes: ['Ingress', 'Egress'] });
      policy(
        'allow-dns',
        { matchLabels: release },
        {
          policyTypes: ['Egress'],
          egress: [
            { to: [peer({ dns: true })], ports: ports([{ port: 53, protocol: 'UDP' }, { port: 53 }]) },
          ],
        },
      );
      const seen = new Set<string>();
      for (const allow of props.allows) {
        const from = label(allow.from);
        const to = label(allow.to);
        const key = `${from}-to-${to}`;
        if (seen.has(key)) throw new Error(`'allows' repeat the edge ${from} -> ${to}`);
        seen.add(key);
        const build = () => {
          const p =
            'apiServer' in allow.to ? k.block<Json[]>('networkPolicy.apiServerPorts') : ports(allow.ports);
          if ('component' in allow.to) {
            policy(
              `${to}-from-${from}`,
              { matchLabels: k.selector(allow.to.component) },
              {
                policyTypes: ['Ingress'],
                ingress: [{ from: [peer(allow.from)], ports: p }],
              },
            );
          }
          if ('component' in allow.from) {
            policy(
              `${from}-to-${to}`,
              { matchLabels: k.selector(allow.from.component) },
              {
                policyTypes: ['Egress'],
                egress: [{ to: [peer(allow.to)], ports: p }],
              },
            );
          }
        };
        if (allow.when) k.under(allow.when.helm, allow.when.holds, build);
        else build();
      }
    });
  }
}
