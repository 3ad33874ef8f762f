import { authSettings } from '@parley/auth';
import { loadConfig, type Spec } from '@parley/common';
import { messageSettings } from '@parley/message';
import { operatorSettings } from '@parley/operators';
import { Ajv } from 'ajv';
import { expect } from 'chai';
import { environment, synthDocs, type Json } from './testkit.ts';
import { defaultValues, parleyValuesSpec } from './values/parley.ts';
import { jsonSchemaOf, mergeValues } from './values/spec.ts';

const ENDPOINT = 'http://otel-collector.observability:4318/v1/traces';
const settingsOf: Record<string, Spec> = {
  auth: authSettings,
  'message-api': messageSettings,
  'message-worker': messageSettings,
  'message-media': messageSettings,
  'message-notifier': messageSettings,
  operator: operatorSettings,
};
const traced = Object.keys(settingsOf);
const withValues = (overlay: unknown) => synthDocs(mergeValues(defaultValues(), overlay));
const otelOf = (env: Record<string, string>) =>
  Object.fromEntries(Object.entries(env).filter(([name]) => name.startsWith('OTEL_')));
const collectorPolicies = (docs: Json[]) =>
  docs.filter((d) => d.kind === 'NetworkPolicy' && d.metadata.name.endsWith('-to-otel-collector'));
const checksum = (docs: Json[], deployment: string) =>
  docs.find((d) => d.kind === 'Deployment' && d.metadata.name === deployment)!.spec.template.metadata
    .annotations['checksum/config'];

describe('tracing values', () => {
  it('are off by default: no OTEL_* setting in any pod and no egress to a collector', () => {
    const docs = withValues({});
    for (const c of traced) expect(otelOf(environment(docs, `parley-${c}`)), c).to.deep.equal({});
    expect(collectorPolicies(docs)).to.deep.equal([]);
  });

  it('give every Parley process the endpoint and ratio, which it accepts', () => {
    const docs = withValues({ tracing: { endpoint: ENDPOINT, sampleRatio: 0.25 } });
    for (const c of traced) {
      const env = environment(docs, `parley-${c}`);
      expect(otelOf(env), c).to.deep.equal({
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: ENDPOINT,
        OTEL_TRACES_SAMPLER_ARG: '0.25',
      });
      const config = loadConfig(settingsOf[c]!, { KAFKA_BROKERS: 'kafka:9092', ...env });
      expect(config.tracing, c).to.deep.equal({ endpoint: ENDPOINT, sampleRatio: 0.25 });
    }
  });

  it('let the operator export spans to the collector too', () => {
    const docs = withValues({ tracing: { endpoint: ENDPOINT } });
    expect(collectorPolicies(docs).map((p) => p.metadata.name)).to.include(
      'parley-operator-to-otel-collector',
    );
  });

  it("let a component's own config win: its ratio, or an empty endpoint that turns tracing off for it alone", () => {
    const docs = withValues({
      tracing: { endpoint: ENDPOINT, sampleRatio: '0.5' },
      auth: { config: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '' } },
      message: { worker: { config: { OTEL_TRACES_SAMPLER_ARG: '1' } } },
    });
    expect(loadConfig(authSettings, environment(docs, 'parley-auth')).tracing.endpoint).to.equal(undefined);
    expect(environment(docs, 'parley-message-worker').OTEL_TRACES_SAMPLER_ARG).to.equal('1');
    expect(environment(docs, 'parley-message-api').OTEL_TRACES_SAMPLER_ARG).to.equal('0.5');
  });

  it('roll every traced pod when tracing is turned on', () => {
    const off = withValues({});
    const on = withValues({ tracing: { endpoint: ENDPOINT } });
    for (const c of traced) expect(checksum(on, `parley-${c}`), c).to.not.equal(checksum(off, `parley-${c}`));
  });

  it("allow egress from each traced pod to the collector's namespaces and pods on its port", () => {
    const collector = {
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'telemetry' } },
      podSelector: { matchLabels: { 'app.kubernetes.io/name': 'opentelemetry-collector' } },
      port: 14318,
    };
    const policies = collectorPolicies(withValues({ tracing: { endpoint: ENDPOINT, collector } }));
    expect(policies.map((p) => p.spec.podSelector.matchLabels['app.kubernetes.io/component'])).to.deep.equal(
      traced,
    );
    for (const p of policies) {
      expect(p.spec.policyTypes).to.deep.equal(['Egress']);
      expect(p.spec.egress).to.deep.equal([
        {
          to: [{ namespaceSelector: collector.namespaceSelector, podSelector: collector.podSelector }],
          ports: [{ protocol: 'TCP', port: 14318 }],
        },
      ]);
    }
    const defaults = collectorPolicies(withValues({ tracing: { endpoint: ENDPOINT } }));
    expect(defaults[0]!.spec.egress).to.deep.equal([
      {
        to: [
          {
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'observability' } },
            podSelector: {},
          },
        ],
        ports: [{ protocol: 'TCP', port: 4318 }],
      },
    ]);
  });

  it('create no collector policy when NetworkPolicies are off', () => {
    const docs = withValues({ tracing: { endpoint: ENDPOINT }, networkPolicy: { enabled: false } });
    expect(docs.some((d) => d.kind === 'NetworkPolicy')).to.equal(false);
    expect(environment(docs, 'parley-auth').OTEL_EXPORTER_OTLP_TRACES_ENDPOINT).to.equal(ENDPOINT);
  });
});

describe('tracing values in values.schema.json', () => {
  const validate = new Ajv({ allowUnionTypes: true, allErrors: true }).compile(
    jsonSchemaOf(parleyValuesSpec),
  );
  const errorsOf = (tracing: unknown) => {
    validate(mergeValues(defaultValues(), { tracing }));
    return (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
  };

  const accepted: [string, unknown][] = [
    ['the defaults (tracing off)', {}],
    ['an http endpoint with a port and path', { endpoint: ENDPOINT }],
    ['an https endpoint', { endpoint: 'https://otel.example.com/v1/traces' }],
    ['a ratio as a number', { endpoint: ENDPOINT, sampleRatio: 0.25 }],
    ['a ratio as a decimal string (--set)', { endpoint: ENDPOINT, sampleRatio: '0.05' }],
    ['a ratio of 0', { sampleRatio: 0 }],
  ];
  for (const [what, tracing] of accepted) {
    it(`accepts ${what}`, () => expect(errorsOf(tracing)).to.deep.equal([]));
  }

  const refused: [string, unknown, string][] = [
    [
      'an endpoint without a scheme',
      { endpoint: 'otel-collector:4318' },
      '/tracing/endpoint must match pattern',
    ],
    ['a grpc endpoint', { endpoint: 'grpc://otel-collector:4317' }, '/tracing/endpoint must match pattern'],
    [
      'an endpoint with spaces',
      { endpoint: 'http://otel collector' },
      '/tracing/endpoint must match pattern',
    ],
    ['a ratio above 1', { sampleRatio: 1.5 }, '/tracing/sampleRatio must be <= 1'],
    ['a ratio string above 1', { sampleRatio: '1.5' }, '/tracing/sampleRatio must match pattern'],
    ['a ratio Helm would print as 1e-05', { sampleRatio: 0.00001 }, '/tracing/sampleRatio must NOT be valid'],
    ['a collector port of 0', { collector: { port: 0 } }, '/tracing/collector/port must be >= 1'],
    ['an unknown key', { enabled: true }, '/tracing must NOT have additional properties'],
  ];
  for (const [what, tracing, error] of refused) {
    it(`refuses ${what}`, () => {
      const errors = errorsOf(tracing);
      expect(
        errors.some((e) => e.startsWith(error)),
        errors.join('; '),
      ).to.equal(true);
    });
  }
});
