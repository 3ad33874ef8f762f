import { expect } from 'chai';
import { cloneValue } from './port.ts';

describe('cloneValue (what $set stores)', () => {
  it('copies plain objects and arrays at every depth and returns primitives as they are', () => {
    const v = { a: [1, { b: 'x' }], c: { d: null, e: undefined, f: true } };
    const c = cloneValue(v);
    expect(c).to.deep.equal(v);
    expect(c).to.not.equal(v);
    expect(c.a).to.not.equal(v.a);
    expect(c.a[1]).to.not.equal(v.a[1]);
    expect(c.c).to.not.equal(v.c);
    for (const p of [0, 'text', false, null, undefined, 12n]) expect(cloneValue(p)).to.equal(p);
  });

  it('copies other objects (Date, a null-prototype object, typed arrays) as structuredClone does', () => {
    const at = new Date(1_700_000_000_000);
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { k: [1] });
    const c = cloneValue({ at, bare, bytes: new Uint8Array([1, 2]) });
    expect(c.at).to.be.instanceOf(Date).and.not.equal(at);
    expect(c.at.getTime()).to.equal(at.getTime());
    expect(c.bare).to.deep.equal({ k: [1] });
    expect(c.bare.k).to.not.equal(bare.k);
    expect(c.bytes)
      .to.be.instanceOf(Uint8Array)
      .and.deep.equal(new Uint8Array([1, 2]));
  });
});
