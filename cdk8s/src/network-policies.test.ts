import { expect } from 'chai';
import { synthDocs, type Json } from './testkit.ts';
import { defaultValues } from './values/parley.ts';
import { mergeValues } from './values/spec.ts';

const synth = (overlay: unknown = {}) => synthDocs(mergeValues(defaultValues(), overlay));
const policy = (docs: Json[], suffix: string) =>
  docs.find((d) => d.kind === 'NetworkPolicy' && d.metadata.name.endsWith(suffix));

describe('NetworkPolicies found by enforcing them on a real node', () => {
  it('let the operator and the secrets Job reach the API server on the ports the values name', () => {
    const ports = (docs: Json[], who: string) =>
      policy(docs, `-${who}-to-apiserver`)!.spec.egress.map((r: Json) => r.ports);
    expect(ports(synth(), 'operator')).to.deep.equal([
      [
        { port: 443, protocol: 'TCP' },
        { port: 6443, protocol: 'TCP' },
      ],
    ]);
    // A policy sees the endpoint's port after the kubernetes Service's DNAT (16443 on microk8s
    // and on scripts/kube's node), not the Service's 443.
    const custom = synth({ networkPolicy: { apiServerPorts: [{ port: 16443, protocol: 'TCP' }] } });
    for (const who of ['operator', 'secrets'])
      expect(ports(custom, who)).to.deep.equal([[{ port: 16443, protocol: 'TCP' }]]);
  });

  it('let the helm test out to the ingress controller only when it goes through the ingress', () => {
    expect(policy(synth(), '-test-to-ingress-controller')).to.equal(undefined);
    const docs = synth({
      tests: { baseUrl: 'http://parley.local' },
      networkPolicy: {
        ingressNamespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'traefik' } },
      },
    });
    const p = policy(docs, '-test-to-ingress-controller')!;
    expect(p.spec.podSelector.matchLabels['app.kubernetes.io/component']).to.equal('test');
    expect(p.spec.egress).to.deep.equal([
      {
        to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'traefik' } } }],
        ports: [],
      },
    ]);
  });
});
