import { expect } from 'chai';
import { validateAutoscalerSpec } from './types.ts';

describe('validateAutoscalerSpec', () => {
  const good = {
    scaleTargetRef: { name: 'worker' },
    consumerGroup: 'workers',
    topics: ['chat.messages'],
    lagThreshold: 1000,
    maxReplicas: 10,
  };

  it('applies defaults: one replica minimum, HPA windows, latest, DrainTime', () => {
    expect(validateAutoscalerSpec(good)).to.deep.equal({
      ok: true,
      value: {
        ...good,
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'worker' },
        activationLagThreshold: 0,
        minReplicas: 1,
        pollingIntervalSeconds: 15,
        scaleUpStabilizationSeconds: 0,
        scaleDownStabilizationSeconds: 300,
        cooldownSeconds: 0,
        offsetResetPolicy: 'latest',
        policy: 'DrainTime',
        targetDrainSeconds: 60,
      },
    });
  });

  it('accepts minReplicas 0 (scale to zero is opt-in)', () => {
    const r = validateAutoscalerSpec({ ...good, minReplicas: 0 });
    expect(r.ok && r.value.minReplicas).to.equal(0);
  });

  const bad: [string, unknown, string[]][] = [
    ['a spec that is not an object', 'x', ['spec must be an object (got "x")']],
    [
      'minReplicas above maxReplicas',
      { ...good, minReplicas: 5, maxReplicas: 2 },
      ['spec.minReplicas (5) must be <= spec.maxReplicas (2)'],
    ],
    [
      'a negative minReplicas',
      { ...good, minReplicas: -1 },
      ['spec.minReplicas must be an integer >= 0 (got -1)'],
    ],
    ['a zero maxReplicas', { ...good, maxReplicas: 0 }, ['spec.maxReplicas must be an integer >= 1 (got 0)']],
    [
      'a missing scale target',
      { ...good, scaleTargetRef: undefined },
      ['spec.scaleTargetRef must be an object (got undefined)'],
    ],
    [
      'a scale target without a name',
      { ...good, scaleTargetRef: { name: '' } },
      ['spec.scaleTargetRef.name must be a non-empty string (got "")'],
    ],
    [
      'a StatefulSet target',
      { ...good, scaleTargetRef: { name: 'w', kind: 'StatefulSet' } },
      ['spec.scaleTargetRef.kind must be Deployment (got "StatefulSet")'],
    ],
    [
      'a target in another API group',
      { ...good, scaleTargetRef: { name: 'w', apiVersion: 'apps/v1beta1' } },
      ['spec.scaleTargetRef.apiVersion must be apps/v1 (got "apps/v1beta1")'],
    ],
    [
      'an empty consumer group',
      { ...good, consumerGroup: '' },
      ['spec.consumerGroup must be a non-empty string (got "")'],
    ],
    ['no topics', { ...good, topics: [] }, ['spec.topics must be a non-empty list of topic names (got [])']],
    [
      'a topic that is not a string',
      { ...good, topics: ['a', 3] },
      ['spec.topics[1] must be a non-empty string (got 3)'],
    ],
    ['a topic listed twice', { ...good, topics: ['a', 'a'] }, ['spec.topics lists "a" more than once']],
    [
      'a zero lag threshold',
      { ...good, lagThreshold: 0 },
      ['spec.lagThreshold must be a number > 0 (got 0)'],
    ],
    [
      'a negative activation lag',
      { ...good, activationLagThreshold: -1 },
      ['spec.activationLagThreshold must be a number >= 0 (got -1)'],
    ],
    [
      'a zero polling interval',
      { ...good, pollingIntervalSeconds: 0 },
      ['spec.pollingIntervalSeconds must be an integer >= 1 (got 0)'],
    ],
    [
      'a scale-down window over an hour',
      { ...good, scaleDownStabilizationSeconds: 7200 },
      ['spec.scaleDownStabilizationSeconds must be an integer between 0 and 3600 (got 7200)'],
    ],
    [
      'a negative scale-up window',
      { ...good, scaleUpStabilizationSeconds: -5 },
      ['spec.scaleUpStabilizationSeconds must be an integer between 0 and 3600 (got -5)'],
    ],
    [
      'a negative cooldown',
      { ...good, cooldownSeconds: -1 },
      ['spec.cooldownSeconds must be an integer >= 0 (got -1)'],
    ],
    [
      'a zero drain target',
      { ...good, targetDrainSeconds: 0 },
      ['spec.targetDrainSeconds must be a number > 0 (got 0)'],
    ],
    [
      'an unknown offset reset policy',
      { ...good, offsetResetPolicy: 'none' },
      ['spec.offsetResetPolicy must be one of latest, earliest (got "none")'],
    ],
    [
      'an unknown policy',
      { ...good, policy: 'Magic' },
      ['spec.policy must be one of DrainTime, Lag (got "Magic")'],
    ],
  ];
  for (const [what, spec, errors] of bad) {
    it(`rejects ${what}`, () => {
      expect(validateAutoscalerSpec(spec)).to.deep.equal({ ok: false, errors });
    });
  }
});
