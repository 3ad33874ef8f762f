import { expect } from 'chai';
import { RouteTable } from './routetable.ts';

describe('route table (Allow for 405)', () => {
  const table = new RouteTable();
  for (const [m, url] of [
    ['GET', '/v1/users/me'],
    ['HEAD', '/v1/users/me'],
    ['PATCH', '/v1/users/me'],
    ['GET', '/v1/users/:username'],
    ['PUT', '/v1/messages/:id/reactions/:emoji'],
    ['DELETE', '/v1/messages/:id/reactions/:emoji'],
    ['GET', '/.well-known/jwks.json'],
    ['PUT', '/v1/users/me/public-key'],
    ['GET', '/v1/users/:username/public-key'],
    ['OPTIONS', '*'],
  ])
    table.add(m!, url!);

  const cases: [string, string | undefined, string[]][] = [
    ['/v1/users/me', '/v1/users/me', ['GET', 'HEAD', 'OPTIONS', 'PATCH']],
    ['/v1/users/alice', '/v1/users/:username', ['GET', 'OPTIONS']],
    // Concrete beats templated, as in OpenAPI: "me" is not a username here.
    ['/v1/users/me/public-key', '/v1/users/me/public-key', ['OPTIONS', 'PUT']],
    ['/v1/users/alice/public-key', '/v1/users/:username/public-key', ['GET', 'OPTIONS']],
    [
      '/v1/messages/1/reactions/%F0%9F%91%8D',
      '/v1/messages/:id/reactions/:emoji',
      ['DELETE', 'OPTIONS', 'PUT'],
    ],
    ['/.well-known/jwks.json', '/.well-known/jwks.json', ['GET', 'OPTIONS']],
    ['/.well-known/jwksXjson', undefined, []],
    ['/v1/users/alice/extra', undefined, []],
    ['/v1/messages/1/reactions/', undefined, []],
    ['/nowhere', undefined, []],
  ];
  for (const [path, url, allow] of cases)
    it(`resolves ${path} to ${url ?? 'nothing (404)'}${url ? ` allowing ${allow.join(', ')}` : ''}`, () => {
      expect(table.resolve(path)).to.deep.equal(url ? { url, allow } : undefined);
    });
});
