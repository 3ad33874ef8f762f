import { expect } from 'chai';
import client from 'prom-client';
import { HotCounter, HotHistogram } from './hotmetrics.ts';

/** The same metrics in two registries: one fed through prom-client, one through the hot cells. */
function pair() {
  const make = () => {
    const registry = new client.Registry();
    const registers = [registry];
    const buckets = [0.001, 0.01, 0.1, 1];
    return {
      registry,
      frames: new client.Counter({ name: 'frames_total', help: 'h', labelNames: ['type'], registers }),
      opened: new client.Counter({ name: 'opened_total', help: 'h', registers }),
      seconds: new client.Histogram({ name: 'seconds', help: 'h', labelNames: ['type'], buckets, registers }),
      batch: new client.Histogram({ name: 'batch', help: 'h', buckets, registers }),
    };
  };
  const plain = make();
  const hot = make();
  return {
    plain,
    hot: {
      registry: hot.registry,
      direct: hot,
      frames: new HotCounter(hot.frames, 'type'),
      opened: new HotCounter(hot.opened),
      seconds: new HotHistogram(hot.seconds, 'type'),
      batch: new HotHistogram(hot.batch),
    },
  };
}

/** The exposition text, with sums to 12 significant digits: the cells add in another order. */
async function text(registry: client.Registry): Promise<string> {
  return (await registry.metrics()).replace(
    /^(\S+_sum\S*) (\S+)$/gm,
    (_, k: string, v: string) => `${k} ${Number(v).toPrecision(12)}`,
  );
}

describe('hot metrics (cells added to prom-client when collected)', () => {
  it('export what the same calls to prom-client export (sums to 12 digits), across several scrapes', async () => {
    const { plain, hot } = pair();
    let seed = 7;
    const rnd = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const types = ['send', 'typing', 'ack'];
    for (let scrape = 0; scrape < 3; scrape++) {
      for (let i = 0; i < 500; i++) {
        const type = types[i % 3]!;
        // Values on both sides of every bound, on the bounds themselves, and past the last one.
        const v = i % 50 === 0 ? [0.001, 0.01, 1, 5][i % 4]! : rnd() ** 3 * 2;
        plain.frames.labels(type).inc();
        hot.frames.inc(type);
        plain.seconds.labels(type).observe(v);
        hot.seconds.observe(type, v);
        if (i % 10 === 0) {
          plain.opened.inc(2);
          hot.opened.inc(undefined, 2);
          plain.batch.observe(v * 10);
          hot.batch.observe('', v * 10);
        }
      }
      expect(await text(hot.registry)).to.equal(await text(plain.registry));
    }
  });

  it('adds to what was recorded through prom-client directly, and to series it already has', async () => {
    const { plain, hot } = pair();
    plain.seconds.labels('send').observe(0.5);
    hot.direct.seconds.labels('send').observe(0.5);
    await hot.registry.metrics();
    for (const v of [0.002, 3]) {
      plain.seconds.labels('send').observe(v);
      hot.seconds.observe('send', v);
    }
    plain.frames.labels('send').inc(4);
    hot.direct.frames.labels('send').inc(1);
    hot.frames.inc('send', 3);
    expect(await text(hot.registry)).to.equal(await text(plain.registry));
    const read = await hot.direct.frames.get();
    expect(read.values).to.deep.equal([{ value: 4, labels: { type: 'send' } }]);
  });

  it('refuses a value that is not a finite number, as prom-client does', () => {
    const { hot } = pair();
    expect(() => hot.seconds.observe('send', Number.NaN)).to.throw(TypeError);
  });
});
