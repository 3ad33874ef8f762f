import { expect } from 'chai';
import { previewOf } from './notifier.ts';

describe('previewOf (the text of a push or mail line)', () => {
  it('flattens and clips the body, and marks attachments', () => {
    expect(previewOf({ body: ' hello\n\tthere ' })).to.equal('hello there');
    expect(previewOf({ body: 'look', attachments: ['a1'] })).to.equal('look 📎');
    expect(previewOf({ body: 'look', attachments: ['a1', 'a2'] })).to.equal('look 📎 2');
    const long = previewOf({ body: 'x'.repeat(300), attachments: ['a1'] });
    expect(long)
      .to.have.length(140)
      .and.match(/…\s📎$/);
    expect(previewOf({ body: 'x'.repeat(300) })).to.have.length(140);
  });

  it('names a message that is only files, or encrypted, or empty', () => {
    expect(previewOf({ body: '', attachments: ['a1'] })).to.equal('Sent an attachment');
    expect(previewOf({ body: ' ', attachments: ['a1', 'a2', 'a3'] })).to.equal('Sent 3 attachments');
    expect(previewOf({ ciphertext: 'zzz', attachments: ['a1'] })).to.equal('New encrypted message');
    expect(previewOf({ body: '' })).to.equal('New message');
  });
});
