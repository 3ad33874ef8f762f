import { expect } from 'chai';
import { CursorTracker, ResumeCursors } from './cursors.ts';

const A = 'a0000000-0000-4000-8000-000000000001';

describe('CursorTracker', () => {
  it('starts a conversation at its first message and advances on contiguous seqs', () => {
    const t = new CursorTracker();
    expect(t.observe(A, 5)).to.equal('next');
    expect(t.observe(A, 6)).to.equal('next');
    expect(t.get(A)).to.equal(6);
    expect(t.snapshot()).to.deep.equal({ [A]: 6 });
  });

  it('reports old seqs and never moves back', () => {
    const t = new CursorTracker();
    t.set(A, 10);
    expect(t.observe(A, 9)).to.equal('old');
    t.set(A, 3);
    expect(t.get(A)).to.equal(10);
  });

  it('holds messages above a hole and catches up when the hole fills', () => {
    const t = new CursorTracker();
    t.set(A, 1);
    expect(t.observe(A, 3)).to.equal('gap');
    expect(t.observe(A, 4)).to.equal('gap');
    expect(t.get(A)).to.equal(1);
    expect(t.hasGap(A)).to.equal(true);
    expect(t.observe(A, 2)).to.equal('next');
    expect(t.get(A)).to.equal(4);
    expect(t.hasGap(A)).to.equal(false);
  });

  it('passes holes a resume could not fill (expired messages)', () => {
    const t = new CursorTracker();
    t.set(A, 1);
    t.observe(A, 4);
    t.observe(A, 7);
    t.settle(A, 5); // the server replayed up to 5: 2, 3 no longer exist
    expect(t.get(A)).to.equal(5);
    expect(t.hasGap(A)).to.equal(true); // 7 still waits for 6
    t.observe(A, 6);
    expect(t.get(A)).to.equal(7);
  });

  it('keeps a cursor that is ahead of what a resume reports', () => {
    const t = new CursorTracker();
    t.set(A, 9);
    t.settle(A, 4);
    expect(t.get(A)).to.equal(9);
  });

  it('forgets a conversation', () => {
    const t = new CursorTracker();
    t.set(A, 2);
    t.forget(A);
    expect(t.snapshot()).to.deep.equal({});
  });
});

describe('ResumeCursors', () => {
  it('names {seq, pos} once a position is known, and only conversations with a seq', () => {
    const r = new ResumeCursors();
    r.seqs.set(A, 4);
    expect(r.frames()).to.deep.equal([{ [A]: 4 }]);
    expect(r.observe(A, 7)).to.equal(true);
    expect(r.observe(A, 7), 'a duplicate').to.equal(false);
    expect(r.observe(A, 9)).to.equal('gap');
    expect(r.frames()).to.deep.equal([{ [A]: { seq: 4, pos: 7 } }]);
    expect(r.frames(['b0000000-0000-4000-8000-000000000002'])).to.deep.equal([]);
    r.settle({ type: 'resumed', conversations: { [A]: 6 }, positions: { [A]: 9 } });
    expect(r.cursor(A)).to.deep.equal({ seq: 6, pos: 9 });
  });
});
