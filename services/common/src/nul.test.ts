import { expect } from 'chai';
import { findNul, forbidNul, NO_NUL_PATTERN } from './nul.ts';

describe('U+0000 guard', () => {
  it('names the first string, key or array element holding U+0000', () => {
    expect(findNul({ a: 'ok', b: { c: ['x', 'y\u0000'] } }, 'body')).to.equal('body.b.c.1');
    expect(findNul({ ['k\u0000']: 1 })).to.equal('k\u0000');
    expect(findNul('\u0000')).to.equal('(value)');
    expect(findNul({ a: 'fine', n: 0, z: null, t: true })).to.equal(undefined);
    expect(findNul({ a: { x: 'y\u0000' }, ['b\u0000']: 1 })).to.equal('a.x');
  });

  it('walks a value nested far deeper than the call stack allows', () => {
    let deep: unknown = 'end\u0000';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(findNul(deep)).to.equal(`${'0.'.repeat(99_999)}0`);
    let clean: unknown = 'end';
    for (let i = 0; i < 100_000; i++) clean = { k: clean };
    expect(findNul(clean)).to.equal(undefined);
  });

  it('constrains every free string of a JSON schema, keeping patterns it already has', () => {
    const schema = forbidNul({
      type: 'object',
      properties: {
        free: { type: 'string', maxLength: 5 },
        patterned: { type: 'string', pattern: '\\S' },
        id: { type: 'string', format: 'uuid' },
        kind: { type: 'string', enum: ['a', 'b'] },
        list: { type: 'array', items: { type: ['string', 'null'] } },
      },
    });
    const p = schema.properties as Record<string, Record<string, unknown>>;
    expect(p.free!.pattern).to.equal(NO_NUL_PATTERN);
    expect(p.patterned).to.deep.include({ pattern: '\\S', allOf: [{ pattern: NO_NUL_PATTERN }] });
    expect(p.id).to.not.have.property('pattern');
    expect(p.kind).to.not.have.property('pattern');
    expect((p.list!.items as Record<string, unknown>).pattern).to.equal(NO_NUL_PATTERN);
    expect(new RegExp(NO_NUL_PATTERN).test('a\u0000')).to.equal(false);
    expect(new RegExp(NO_NUL_PATTERN).test('ok')).to.equal(true);
  });
});
