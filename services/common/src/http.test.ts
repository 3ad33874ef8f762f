import { expect } from 'chai';
import { commonErrors, PROBLEM_BASE, problems } from './errors.ts';

describe('error catalogue', () => {
  it('has a stable upper-snake code, an HTTP error status, a title and a doc for every entry', () => {
    for (const [code, spec] of Object.entries(commonErrors)) {
      expect(code).to.match(/^[A-Z][A-Z0-9_]*$/);
      expect(spec.status).to.be.within(400, 599);
      expect(spec.title.length, code).to.be.greaterThan(3);
      expect(spec.doc.length, code).to.be.greaterThan(10);
    }
  });

  it('builds RFC 9457 problem documents', () => {
    const p = problems.FORBIDDEN('not an admin').toProblem('/v1/admin', 'req-1');
    expect(p).to.deep.equal({
      type: PROBLEM_BASE + 'forbidden',
      title: 'Not allowed',
      status: 403,
      code: 'FORBIDDEN',
      detail: 'not an admin',
      instance: '/v1/admin',
      requestId: 'req-1',
    });
  });
});
