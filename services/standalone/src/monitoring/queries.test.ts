import { expect } from 'chai';
import { alertInputs, allowedWithoutData, monitoringQueries, reasonWithoutData } from './queries.ts';

describe('monitoring queries', () => {
  for (const [expr, inputs] of [
    ['up{job=~"(.+-)?(auth|operator)"} == 0', ['up{job=~"(.+-)?(auth|operator)"}']],
    [
      'sum by (job) (rate(a_total{status_class="5xx"}[5m]))\n  / sum by (job) (rate(a_total[5m])) > 0.05',
      ['sum by (job) (rate(a_total{status_class="5xx"}[5m]))\n  / sum by (job) (rate(a_total[5m]))'],
    ],
    ['kafka_brokers < max_over_time(kafka_brokers[1h])', ['kafka_brokers']],
    [
      'redis_memory_used_bytes / redis_memory_max_bytes > 0.9 and redis_memory_max_bytes > 0',
      ['redis_memory_used_bytes / redis_memory_max_bytes', 'redis_memory_max_bytes'],
    ],
    [
      'x{fstype!~"tmpfs|overlay"} / y{fstype!~"tmpfs|overlay"} < 0.1',
      ['x{fstype!~"tmpfs|overlay"} / y{fstype!~"tmpfs|overlay"}'],
    ],
    ['sum by (namespace) (parley_operator_leader) < 1', ['sum by (namespace) (parley_operator_leader)']],
    ['a{l="x > 1 and y"} >= 2', ['a{l="x > 1 and y"}']],
    [
      'histogram_quantile(0.99, sum by (le) (rate(h_bucket[5m])))',
      ['histogram_quantile(0.99, sum by (le) (rate(h_bucket[5m])))'],
    ],
  ] as const)
    it(`the inputs of ${JSON.stringify(expr)} are ${JSON.stringify(inputs)}`, () => {
      expect(alertInputs(expr)).to.deep.equal(inputs);
    });

  it('collects every dashboard query and rule, with the namespace variable filled in', () => {
    const qs = monitoringQueries('ns-1');
    expect(qs.filter((q) => q.kind === 'alert').length).to.be.greaterThan(10);
    expect(qs.filter((q) => q.kind === 'panel').map((q) => q.owner)).to.include.members([
      'parley.json',
      'kafka.json',
      'redis.json',
      'mongodb.json',
      'nodes.json',
    ]);
    expect(qs.some((q) => q.expr.includes('$namespace'))).to.equal(false);
    expect(qs.some((q) => q.expr.includes('namespace="ns-1"'))).to.equal(true);
  });

  it('the allow-list names only queries that exist, each with a reason', () => {
    const qs = monitoringQueries('ns');
    const allowed = allowedWithoutData();
    for (const [file, panels] of Object.entries(allowed.dashboards))
      for (const [panel, reason] of Object.entries(panels)) {
        expect(reason, `${file} ${panel}`).to.be.a('string').and.not.equal('');
        expect(
          qs.some((q) => q.owner === file && (panel === '*' || q.panel === panel)),
          `${file} / ${panel} is not a dashboard panel`,
        ).to.equal(true);
      }
    for (const [name, reason] of Object.entries(allowed.rules)) {
      expect(reason, name).to.be.a('string').and.not.equal('');
      expect(
        qs.some((q) => q.kind !== 'panel' && q.owner === name),
        `${name} is not a rule`,
      ).to.equal(true);
    }
    expect(
      reasonWithoutData(
        qs.find((q) => q.owner === 'parley.json')!,
        allowed,
      ),
    ).to.equal(undefined);
  });
});
