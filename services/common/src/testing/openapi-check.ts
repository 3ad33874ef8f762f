import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { expect } from 'chai';

type Doc = {
  paths: Record<
    string,
    Record<string, { responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>
  >;
  components: { schemas: Record<string, unknown> };
};

/** Checks real responses against the served OpenAPI document: status documented, body matches. */
export class OpenApiChecker {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true });
  private readonly cache = new Map<string, ReturnType<Ajv2020['compile']>>();
  readonly seen = new Set<string>();

  constructor(private readonly doc: Doc) {
    (addFormats as unknown as (a: Ajv2020) => void)(this.ajv);
    this.ajv.addSchema({ $id: 'components', components: doc.components } as never);
  }

  check(
    method: string,
    route: string,
    res: { statusCode: number; headers: Record<string, unknown>; body: string },
  ): void {
    const op = this.doc.paths[route.replace(/:([A-Za-z0-9_]+)/g, '{$1}')]?.[method.toLowerCase()];
    expect(op, `${method} ${route} is not in the OpenAPI document`).to.not.equal(undefined);
    const r = op!.responses[String(res.statusCode)];
    expect(r, `${method} ${route} answered ${res.statusCode}, which the document does not list`).to.not.equal(
      undefined,
    );
    this.seen.add(`${method} ${route} ${res.statusCode}`);
    const type = String(res.headers['content-type'] ?? '').split(';')[0]!;
    const media = r!.content?.[type];
    if (!r!.content) return;
    expect(
      media,
      `${method} ${route} ${res.statusCode} sent ${type}, documented ${Object.keys(r!.content).join(', ')}`,
    ).to.not.equal(undefined);
    const key = `${method} ${route} ${res.statusCode} ${type}`;
    let validate = this.cache.get(key);
    if (!validate) {
      const schema = JSON.parse(
        JSON.stringify(media!.schema).replace(/"#\/components\//g, '"components#/components/'),
      );
      validate = this.ajv.compile(schema);
      this.cache.set(key, validate);
    }
    const ok = validate(JSON.parse(res.body));
    expect(ok, `${key} body does not match: ${this.ajv.errorsText(validate.errors)}`).to.equal(true);
  }
}

/** Fetches /v1/openapi.json from an app, checks it is a valid OpenAPI 3.1 document, returns it. */
export async function validOpenApi(app: {
  inject: (o: { method: 'GET'; url: string }) => Promise<{ json: () => unknown }>;
}) {
  const { Validator } = await import('@seriousme/openapi-schema-validator');
  const doc = (await app.inject({ method: 'GET', url: '/v1/openapi.json' })).json() as Doc & {
    openapi: string;
  };
  const result = await new Validator().validate(doc as never);
  expect(result.valid, JSON.stringify(result.errors)).to.equal(true);
  expect(doc.openapi).to.equal('3.1.0');
  return doc;
}
