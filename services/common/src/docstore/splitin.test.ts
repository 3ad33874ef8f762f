import { expect } from 'chai';
import { InvalidQueryError, normalizeFilter, q, type Doc } from './port.ts';
import { compareValues, mergeFound, partOptions, splitIn, writesPath } from './splitin.ts';

describe('splitin (FerretDB runs `in` as equality queries)', () => {
  it('splits on the `in` with the fewest distinct values, each part an equality', () => {
    const s = splitIn({ owner: 'u', a: q.in(['x', 'y', 'z']), b: q.in([1, 2, 2, 1]) })!;
    expect(s.path).to.equal('b');
    expect(s.values).to.deep.equal([1, 2]);
    const part = s.filterFor(2);
    expect(normalizeFilter(part).map(([p, c]) => [p, c.op, c.value])).to.deep.equal([
      ['owner', 'eq', 'u'],
      ['a', 'in', ['x', 'y', 'z']],
      ['b', 'eq', 2],
    ]);
  });

  it("keeps the field's other conditions beside the equality", () => {
    const s = splitIn({ n: [q.gt(1), q.in([3, 4])] })!;
    expect(normalizeFilter(s.filterFor(3)).map(([p, c]) => [p, c.op, c.value])).to.deep.equal([
      ['n', 'eq', 3],
      ['n', 'gt', 1],
    ]);
  });

  it('leaves a filter without `in` alone, and validates the filter even when nothing will run', () => {
    expect(splitIn({ owner: 'u', n: q.nin([1]) })).to.equal(undefined);
    expect(splitIn({ n: q.in([]) })!.values).to.deep.equal([]);
    expect(() => splitIn({ n: q.in([]), bad: { $gt: 1 } as never })).to.throw(InvalidQueryError);
  });

  it('splits null as an equality to null (missing or null, as $in: [null] matches)', () => {
    expect(splitIn({ n: q.in([null]) })!.filterFor(null)).to.deep.equal({ n: null });
  });

  it('tells an update that writes the split path, a field inside it or one holding it', () => {
    expect(writesPath({ $set: { owner: 'v' } }, 'owner')).to.equal(true);
    expect(writesPath({ $inc: { 'profile.n': 1 } }, 'profile')).to.equal(true);
    expect(writesPath({ $unset: ['profile'] }, 'profile.city')).to.equal(true);
    expect(writesPath({ $set: { ownerName: 'v' }, $inc: { n: 1 } }, 'owner')).to.equal(false);
  });

  it('asks each part for the sort and enough documents for the skip and limit', () => {
    expect(partOptions({ sort: [['n', -1]], skip: 2, limit: 3 })).to.deep.equal({
      sort: [['n', -1]],
      limit: 5,
    });
    expect(partOptions({ skip: 2 })).to.deep.equal({});
    expect(partOptions()).to.deep.equal({});
  });

  it('merges parts as one query answers: each document once, sorted with _id breaking ties, skipped, limited', () => {
    const d = (id: string, n?: number): Doc => (n === undefined ? { _id: id } : { _id: id, n });
    const parts = [
      [d('b', 2), d('e', 5)],
      [d('a', 2), d('c', 3)],
      [d('b', 2), d('m')],
    ];
    const ids = (docs: Doc[]) => docs.map((x) => x._id);
    expect(ids(mergeFound(parts))).to.deep.equal(['a', 'b', 'c', 'e', 'm']);
    expect(ids(mergeFound(parts, { sort: [['n', 1]] }))).to.deep.equal(['m', 'a', 'b', 'c', 'e']);
    expect(ids(mergeFound(parts, { sort: [['n', -1]], skip: 1, limit: 2 }))).to.deep.equal(['c', 'a']);
    expect(ids(mergeFound(parts, { sort: [['_id', -1]], limit: 2 }))).to.deep.equal(['m', 'e']);
  });

  it('compares as MongoDB does: by type, numbers by value, strings by UTF-8 bytes, false before true', () => {
    expect([true, 'b', 2, null, false, 'a', -1].sort(compareValues)).to.deep.equal([
      null,
      -1,
      2,
      'a',
      'b',
      false,
      true,
    ]);
    expect(compareValues(undefined, null)).to.equal(0); // a missing field sorts as null
    expect(compareValues(undefined, 0)).to.be.lessThan(0);
    // UTF-16 puts an astral character (a surrogate pair) before U+FFFD; UTF-8 bytes, after it.
    expect(compareValues('\uFFFD', '😀')).to.be.lessThan(0);
    expect(compareValues('😀', '😀')).to.equal(0);
  });
});
