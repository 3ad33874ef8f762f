import { expect } from 'chai';
import { byTopic, OFFSET_COMMIT_MS, OffsetCommits, type PartitionOffset } from './offsetcommits.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('OffsetCommits', () => {
  it('commits at once when none was made for OFFSET_COMMIT_MS, else once the time is up', async () => {
    const sent: PartitionOffset[][] = [];
    const oc = new OffsetCommits(() => undefined);
    const send = async (o: PartitionOffset[]) => void sent.push(o);
    oc.handled('t', 0, '5');
    expect(oc.due()).to.equal(true);
    await oc.commit(send);
    expect(sent).to.deep.equal([[{ topic: 't', partition: 0, offset: '5' }]]);
    oc.handled('t', 0, '7');
    oc.handled('t', 1, '3');
    oc.handled('t', 0, '9');
    expect(oc.due()).to.equal(false);
    oc.later(send);
    oc.later(send); // one timer
    await sleep(OFFSET_COMMIT_MS + 50);
    expect(sent).to.have.length(2);
    expect(sent[1]).to.deep.equal([
      { topic: 't', partition: 0, offset: '9' },
      { topic: 't', partition: 1, offset: '3' },
    ]);
  });

  it('keeps what a failed commit carried, unless a newer offset came', async () => {
    const errors: unknown[] = [];
    const oc = new OffsetCommits((e) => errors.push(e));
    oc.handled('t', 0, '5');
    oc.handled('t', 1, '8');
    await oc.commit(async () => {
      oc.handled('t', 1, '10'); // handled while the commit was in flight
      throw new Error('rebalancing');
    });
    expect(errors).to.have.length(1);
    const sent: PartitionOffset[][] = [];
    await oc.commit(async (o) => void sent.push(o));
    expect(sent[0]).to.deep.include.members([
      { topic: 't', partition: 0, offset: '5' },
      { topic: 't', partition: 1, offset: '10' },
    ]);
  });

  it('drops what is pending on a rebalance, timer included', async () => {
    const sent: PartitionOffset[][] = [];
    const oc = new OffsetCommits(() => undefined);
    await oc.commit(async (o) => void sent.push(o)); // nothing pending: nothing sent
    oc.handled('t', 0, '5');
    await oc.commit(async (o) => void sent.push(o));
    oc.handled('t', 0, '6');
    oc.later(async (o) => void sent.push(o));
    oc.drop();
    await sleep(OFFSET_COMMIT_MS + 50);
    expect(sent).to.have.length(1);
  });

  it('is always due while stopping', () => {
    const oc = new OffsetCommits(() => undefined);
    oc.handled('t', 0, '1');
    void oc.commit(async () => undefined);
    expect(oc.due()).to.equal(false);
    oc.stopping = true;
    expect(oc.due()).to.equal(true);
  });

  it('groups partitions by topic for kafkajs', () => {
    expect(
      byTopic([
        { topic: 'a', partition: 0, offset: '1' },
        { topic: 'b', partition: 2, offset: '4' },
        { topic: 'a', partition: 1, offset: '2' },
      ]),
    ).to.deep.equal([
      {
        topic: 'a',
        partitions: [
          { partition: 0, offset: '1' },
          { partition: 1, offset: '2' },
        ],
      },
      { topic: 'b', partitions: [{ partition: 2, offset: '4' }] },
    ]);
  });
});
