import { expect } from 'chai';
import { checkJsonShape, JSON_LIMITS } from './jsonshape.ts';

const nested = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;
const keyed = (n: number) => `{${Array.from({ length: n }, (_, i) => `"k${i}":${i}`).join(',')}}`;

describe('JSON shape limits', () => {
  const cases: [string, string, string | undefined][] = [
    ['a flat object', '{"type":"send","body":"hi"}', undefined],
    ['nesting at the limit', nested(JSON_LIMITS.maxDepth), undefined],
    ['nesting one past the limit', nested(JSON_LIMITS.maxDepth + 1), 'JSON nests deeper than 32 levels'],
    [
      'the attack frame: 6,000 arrays deep inside an auth frame',
      `{"type":"auth","token":"x","y":${nested(6000)}}`,
      'JSON nests deeper than 32 levels',
    ],
    ['brackets inside strings', `{"body":"${'['.repeat(100)}"}`, undefined],
    ['escaped quotes inside strings', `{"body":"\\"${'{'.repeat(100)}\\\\"}`, undefined],
    ['keys at the limit', keyed(JSON_LIMITS.maxKeys), undefined],
    ['keys one past the limit', keyed(JSON_LIMITS.maxKeys + 1), 'JSON has more than 2048 object keys'],
    ['colons inside strings', `{"body":"${':'.repeat(5000)}"}`, undefined],
    ['not JSON at all (left to the parser)', 'not json', undefined],
  ];
  for (const [name, text, message] of cases)
    it(`${message ? 'refuses' : 'accepts'} ${name}`, () => {
      expect(checkJsonShape(text)?.message).to.equal(message);
    });

  it('checks a 128 KB frame of nesting without recursion', () => {
    expect(checkJsonShape(nested(64 * 1024))?.reason).to.equal('depth');
  });
});
