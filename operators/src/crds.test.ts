import { expect } from 'chai';
import { consumerAutoscalerCrd, crds, operatorRbacRules, topicCrd, type JSONSchemaProps } from './crds.ts';
import { AUTOSCALER_DEFAULTS } from './autoscale/types.ts';

/** The subset of OpenAPI v3 the API server applies to our schemas (CEL rules aside). */
function violations(schema: JSONSchemaProps, value: unknown, path = ''): string[] {
  const at = path || '<root>';
  if (schema['x-kubernetes-preserve-unknown-fields'] && !schema.type) return [];
  const kind = Array.isArray(value) ? 'array' : Number.isInteger(value) ? 'integer' : typeof value;
  const typeOk = schema.type === kind || (schema.type === 'number' && kind === 'integer');
  if (!typeOk) return [`${at}: expected ${schema.type}, got ${kind}`];
  const out: string[] = [];
  if (schema.enum && !schema.enum.includes(value as string)) out.push(`${at}: not in enum`);
  if (typeof value === 'number' && schema.minimum !== undefined) {
    if (schema.exclusiveMinimum ? value <= schema.minimum : value < schema.minimum)
      out.push(`${at}: below minimum`);
  }
  if (typeof value === 'number' && schema.maximum !== undefined && value > schema.maximum) {
    out.push(`${at}: above maximum`);
  }
  if (typeof value === 'string' && schema.pattern && !new RegExp(schema.pattern).test(value)) {
    out.push(`${at}: does not match pattern`);
  }
  if (typeof value === 'string' && schema.minLength !== undefined && value.length < schema.minLength) {
    out.push(`${at}: too short`);
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) out.push(`${at}: too few items`);
    value.forEach((v, i) => out.push(...violations(schema.items!, v, `${path}[${i}]`)));
  }
  if (kind === 'object') {
    const o = value as Record<string, unknown>;
    for (const r of schema.required ?? []) if (!(r in o)) out.push(`${path}.${r}: required`);
    for (const [k, v] of Object.entries(o)) {
      const sub =
        schema.properties?.[k] ??
        (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined);
      if (sub) out.push(...violations(sub, v, `${path}.${k}`));
    }
  }
  return out;
}

/** Structural schema: every node says its type (or opts out with preserve-unknown-fields). */
function untyped(schema: JSONSchemaProps, path: string): string[] {
  const here = schema.type || schema['x-kubernetes-preserve-unknown-fields'] ? [] : [path];
  const children = [
    ...Object.entries(schema.properties ?? {}).map(([k, s]) => untyped(s, `${path}.${k}`)),
    schema.items ? untyped(schema.items, `${path}[]`) : [],
    typeof schema.additionalProperties === 'object' ? untyped(schema.additionalProperties, `${path}{}`) : [],
  ];
  return [...here, ...children.flat()];
}

const schemaOf = (crd: typeof topicCrd) => crd.spec.versions[0]!.schema.openAPIV3Schema;

describe('CRDs', () => {
  it('are parley.dev/v1alpha1, namespaced, with a status subresource and structural schemas', () => {
    for (const crd of crds) {
      expect(crd.metadata.name).to.equal(`${crd.spec.names.plural}.parley.dev`);
      expect(crd.spec.scope).to.equal('Namespaced');
      const [v] = crd.spec.versions;
      expect(crd.spec.versions).to.have.length(1);
      expect(v).to.include({ name: 'v1alpha1', served: true, storage: true });
      expect(v!.subresources).to.deep.equal({ status: {} });
      expect(untyped(schemaOf(crd), '')).to.deep.equal([]);
    }
  });

  it('kubectl get topics shows partitions, replicas and ready', () => {
    const columns = topicCrd.spec.versions[0]!.additionalPrinterColumns!.filter((c) => !c.priority);
    expect(columns.map((c) => c.name)).to.include.members(['Partitions', 'Replicas', 'Ready']);
    expect(columns.find((c) => c.name === 'Ready')!.jsonPath).to.equal(
      '.status.conditions[?(@.type=="Ready")].status',
    );
  });

  const topic = (spec: unknown) => ({ apiVersion: 'parley.dev/v1alpha1', kind: 'Topic', metadata: {}, spec });
  const topicCases: [string, unknown, string[]][] = [
    [
      'accepts the README example',
      {
        partitions: 12,
        replicationFactor: 3,
        config: { 'retention.ms': 604800000, 'cleanup.policy': 'delete' },
        deletionPolicy: 'Retain',
      },
      [],
    ],
    [
      'rejects negative partitions',
      { partitions: -3, replicationFactor: 1 },
      ['.spec.partitions: below minimum'],
    ],
    [
      'rejects zero replicas',
      { partitions: 1, replicationFactor: 0 },
      ['.spec.replicationFactor: below minimum'],
    ],
    ['rejects a missing partition count', { replicationFactor: 1 }, ['.spec.partitions: required']],
    [
      'rejects an unknown deletion policy',
      { partitions: 1, replicationFactor: 1, deletionPolicy: 'Orphan' },
      ['.spec.deletionPolicy: not in enum'],
    ],
    [
      'rejects a bad topic name',
      { topicName: 'a/b', partitions: 1, replicationFactor: 1 },
      ['.spec.topicName: does not match pattern'],
    ],
  ];
  for (const [name, spec, expected] of topicCases) {
    it(`Topic schema ${name}`, () =>
      expect(violations(schemaOf(topicCrd), topic(spec))).to.deep.equal(expected));
  }

  const good = {
    scaleTargetRef: { name: 'worker' },
    consumerGroup: 'g',
    topics: ['chat.messages'],
    lagThreshold: 1000,
    maxReplicas: 12,
  };
  const casCases: [string, unknown, string[]][] = [
    [
      'accepts the README example',
      { ...good, minReplicas: 1, policy: 'DrainTime', targetDrainSeconds: 60 },
      [],
    ],
    ['rejects a zero lag threshold', { ...good, lagThreshold: 0 }, ['.spec.lagThreshold: below minimum']],
    ['rejects an empty topic list', { ...good, topics: [] }, ['.spec.topics: too few items']],
    ['rejects an unknown policy', { ...good, policy: 'Fast' }, ['.spec.policy: not in enum']],
    [
      'rejects a non-Deployment target',
      { ...good, scaleTargetRef: { kind: 'StatefulSet', name: 'w' } },
      ['.spec.scaleTargetRef.kind: not in enum'],
    ],
    [
      'rejects a window over an hour',
      { ...good, scaleDownStabilizationSeconds: 3601 },
      ['.spec.scaleDownStabilizationSeconds: above maximum'],
    ],
  ];
  for (const [name, spec, expected] of casCases) {
    it(`ConsumerAutoscaler schema ${name}`, () =>
      expect(
        violations(schemaOf(consumerAutoscalerCrd), { ...topic(spec), kind: 'ConsumerAutoscaler' }),
      ).to.deep.equal(expected));
  }

  it('ConsumerAutoscaler schema has a CEL rule for minReplicas <= maxReplicas (default 1) and a field per spec default', () => {
    const spec = schemaOf(consumerAutoscalerCrd).properties!.spec!;
    expect(spec['x-kubernetes-validations']).to.deep.equal([
      {
        rule: '(has(self.minReplicas) ? self.minReplicas : 1) <= self.maxReplicas',
        message: 'spec.minReplicas must be <= spec.maxReplicas',
      },
    ]);
    expect(Object.keys(spec.properties!)).to.include.members(Object.keys(AUTOSCALER_DEFAULTS));
  });
});

describe('operatorRbacRules', () => {
  it('grants only what the operator calls: no wildcards, no secrets, no delete', () => {
    const flat = operatorRbacRules.flatMap((r) =>
      r.resources.map((res) => `${r.apiGroups.join()}/${res}:${r.verbs.join(',')}`),
    );
    expect(flat).to.deep.equal([
      'parley.dev/topics:get,list,watch,patch,update',
      'parley.dev/consumerautoscalers:get,list,watch,patch,update',
      'parley.dev/topics/status:get,patch,update',
      'parley.dev/consumerautoscalers/status:get,patch,update',
      'parley.dev/topics/finalizers:update',
      'parley.dev/consumerautoscalers/finalizers:update',
      'apps/deployments:get,list,watch',
      'apps/deployments/scale:get,update,patch',
      'coordination.k8s.io/leases:get,create,update',
      '/events:create,patch',
    ]);
  });
});
