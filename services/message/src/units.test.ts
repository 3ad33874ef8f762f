import { expect } from 'chai';
import { messageIdFor } from './domain/envelopes.ts';
import { rank, tokenize } from './domain/search.ts';
import { assignSequences, parseSeq, SequencePlan } from './domain/sequencing.ts';

describe('sequencing', () => {
  it('numbers new messages per conversation in batch order after the last stored seq', () => {
    const out = assignSequences(
      [
        { id: 'a1', conversationId: 'A' },
        { id: 'b1', conversationId: 'B' },
        { id: 'a2', conversationId: 'A' },
      ],
      new Map([['A', 7]]),
      new Set(),
    );
    expect(out).to.deep.equal([
      { id: 'a1', conversationId: 'A', seq: 8 },
      { id: 'b1', conversationId: 'B', seq: 1 },
      { id: 'a2', conversationId: 'A', seq: 9 },
    ]);
  });

  it('gives a redelivered or repeated message no new number, so there is no gap or duplicate', () => {
    const out = assignSequences(
      [
        { id: 'a1', conversationId: 'A' },
        { id: 'a2', conversationId: 'A' },
        { id: 'a2', conversationId: 'A' },
        { id: 'a3', conversationId: 'A' },
      ],
      new Map([['A', 1]]),
      new Set(['a1']),
    );
    expect(out.map((a) => [a.id, a.seq])).to.deep.equal([
      ['a2', 2],
      ['a3', 3],
    ]);
  });

  type Step = ['stored' | 'alreadyStored', string] | ['stale', number];
  const plans: [
    string,
    { ids: string[]; last: number; stored?: string[] },
    Step[],
    Record<string, number | undefined>,
  ][] = [
    ['plans in record order after the last seq', { ids: ['a', 'b', 'c'], last: 4 }, [], { a: 5, b: 6, c: 7 }],
    [
      'skips ids stored before the batch and repeats within it',
      { ids: ['a', 'b', 'b', 'c'], last: 0, stored: ['a'] },
      [],
      { a: undefined, b: 1, c: 2 },
    ],
    [
      'keeps the plan as each command is stored',
      { ids: ['a', 'b'], last: 2 },
      [['stored', 'a']],
      { a: undefined, b: 4 },
    ],
    [
      'moves the rest down when one turns out stored already (no gap)',
      { ids: ['a', 'b', 'c'], last: 2 },
      [['alreadyStored', 'a']],
      { a: undefined, b: 3, c: 4 },
    ],
    [
      "re-plans what is left after a stale guess, from the store's last seq",
      { ids: ['a', 'b', 'c'], last: 2 },
      [
        ['stored', 'a'],
        ['stale', 9],
      ],
      { a: undefined, b: 10, c: 11 },
    ],
    [
      'never plans below a seq it stored, whatever the store says',
      { ids: ['a', 'b'], last: 5 },
      [
        ['stored', 'a'],
        ['stale', 3],
      ],
      { a: undefined, b: 7 },
    ],
  ];
  for (const [name, init, steps, want] of plans)
    it(`SequencePlan ${name}`, () => {
      const plan = new SequencePlan(
        init.ids.map((id) => ({ id, conversationId: 'A' })),
        init.last,
        new Set(init.stored ?? []),
      );
      for (const [kind, arg] of steps) {
        if (kind === 'stale') plan.stale(arg);
        else plan[kind](arg);
      }
      expect(Object.fromEntries(Object.keys(want).map((id) => [id, plan.seqOf(id)]))).to.deep.equal(want);
    });

  const cursors: [string | undefined, number | null][] = [
    ['0', 0],
    ['42', 42],
    ['-1', null],
    ['1e3', null],
    ['abc', null],
    ['9999999999999999', null],
    [undefined, null],
  ];
  for (const [v, want] of cursors)
    it(`parses cursor ${JSON.stringify(v)} as ${want}`, () => expect(parseSeq(v)).to.equal(want));
});

describe('message ids', () => {
  it('derives the same id for the same conversation, sender and clientMsgId, and a UUID shape', () => {
    expect(messageIdFor('c', 's', 'm1')).to.equal(messageIdFor('c', 's', 'm1'));
    expect(messageIdFor('c', 's', 'm1')).to.not.equal(messageIdFor('c', 's', 'm2'));
    expect(messageIdFor('c', 's', 'm1')).to.match(
      /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });

  it('keeps the ids it derived before: a redelivery after an upgrade maps to the stored message', () => {
    expect(messageIdFor('c', 's', 'm1')).to.equal('afb2c1e6-1543-8920-b9c1-e9fdb75ad63d');
    expect(messageIdFor('ü', 'ß', '💬')).to.equal('78dd4b98-2fbd-830c-973f-2c9fdea8ab21');
  });
  // What a record must be to be stored, and why it is dead-lettered: domain/sendrules.test.ts.
});

describe('search terms', () => {
  it('tokenizes case- and accent-insensitively, dropping one-letter words and duplicates', () => {
    expect(tokenize('Crème brûlée, CRÈME! a 42 x')).to.deep.equal(['creme', 'brulee', '42']);
  });

  it('ranks by terms matched, then recency', () => {
    const hits = [
      { messageId: 'old-two', term: 'a', at: 1 },
      { messageId: 'old-two', term: 'b', at: 1 },
      { messageId: 'new-one', term: 'a', at: 9 },
      { messageId: 'mid-one', term: 'b', at: 5 },
    ];
    expect(rank(hits).map((r) => r.messageId)).to.deep.equal(['old-two', 'new-one', 'mid-one']);
  });
});
