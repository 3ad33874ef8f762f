import { expect } from 'chai';
import { validateTopicSpec } from './types.ts';

describe('validateTopicSpec', () => {
  const good = { partitions: 3, replicationFactor: 3 };

  it('defaults topicName to the resource name and deletionPolicy to Retain, and stringifies config', () => {
    expect(
      validateTopicSpec(
        { ...good, config: { 'retention.ms': 604800000, 'compression.type': 'lz4', preallocate: true } },
        'orders',
      ),
    ).to.deep.equal({
      ok: true,
      value: {
        topicName: 'orders',
        partitions: 3,
        replicationFactor: 3,
        config: { 'retention.ms': '604800000', 'compression.type': 'lz4', preallocate: 'true' },
        deletionPolicy: 'Retain',
      },
    });
  });

  it('uses spec.topicName when set', () => {
    const r = validateTopicSpec({ ...good, topicName: 'chat.messages' }, 'chat-messages');
    expect(r.ok && r.value.topicName).to.equal('chat.messages');
  });

  const bad: [string, unknown, string, string[]][] = [
    ['a spec that is not an object', null, 'orders', ['spec must be an object (got null)']],
    [
      'a negative partition count',
      { ...good, partitions: -3 },
      'orders',
      ['spec.partitions must be an integer >= 1 (got -3)'],
    ],
    [
      'a missing partition count',
      { replicationFactor: 3 },
      'orders',
      ['spec.partitions must be an integer >= 1 (got undefined)'],
    ],
    [
      'a fractional partition count',
      { ...good, partitions: 1.5 },
      'orders',
      ['spec.partitions must be an integer >= 1 (got 1.5)'],
    ],
    [
      'a zero replication factor',
      { ...good, replicationFactor: 0 },
      'orders',
      ['spec.replicationFactor must be an integer >= 1 (got 0)'],
    ],
    [
      'a topic name Kafka rejects',
      { ...good, topicName: 'a b' },
      'orders',
      ['spec.topicName must be 1-249 characters of [a-zA-Z0-9._-] and not "." or ".." (got "a b")'],
    ],
    [
      'the topic name ".."',
      { ...good, topicName: '..' },
      'orders',
      ['spec.topicName must be 1-249 characters of [a-zA-Z0-9._-] and not "." or ".." (got "..")'],
    ],
    [
      'a resource name that is no topic name, without spec.topicName',
      good,
      'x'.repeat(250),
      [`metadata.name "${'x'.repeat(250)}" is not a valid Kafka topic name: set spec.topicName`],
    ],
    [
      'a config that is a list',
      { ...good, config: [] },
      'orders',
      ['spec.config must be a map of string, number or boolean values (got [])'],
    ],
    [
      'a null config value',
      { ...good, config: { 'retention.ms': null } },
      'orders',
      ['spec.config["retention.ms"] must be a string, number or boolean (got null)'],
    ],
    ['an empty config key', { ...good, config: { ' ': 'x' } }, 'orders', ['spec.config has an empty key']],
    [
      'min.insync.replicas above the replication factor',
      { ...good, replicationFactor: 2, config: { 'min.insync.replicas': 3 } },
      'orders',
      ['spec.config["min.insync.replicas"] (3) must be <= spec.replicationFactor (2)'],
    ],
    [
      'a min.insync.replicas that is not a number',
      { ...good, config: { 'min.insync.replicas': 'two' } },
      'orders',
      ['spec.config["min.insync.replicas"] must be an integer >= 1 (got "two")'],
    ],
    [
      'an unknown deletion policy',
      { ...good, deletionPolicy: 'Destroy' },
      'orders',
      ['spec.deletionPolicy must be one of Retain, Delete (got "Destroy")'],
    ],
    [
      'several problems at once',
      { partitions: 0, replicationFactor: 'three' },
      'orders',
      [
        'spec.partitions must be an integer >= 1 (got 0)',
        'spec.replicationFactor must be an integer >= 1 (got "three")',
      ],
    ],
  ];
  for (const [what, spec, name, errors] of bad) {
    it(`rejects ${what}`, () => {
      expect(validateTopicSpec(spec, name)).to.deep.equal({ ok: false, errors });
    });
  }
});
