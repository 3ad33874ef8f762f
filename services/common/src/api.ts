import type { IncomingHttpHeaders } from 'node:http';
import type { Request, Response } from 'express';
import { z } from 'zod';
import { commonErrors, problems, type Catalogue } from './errors.ts';
import type { HttpApp } from './http.ts';
import { findNul, forbidNul } from './nul.ts';

/** Who is calling, once an access token has been verified. */
export interface Principal {
  userId: string;
  sessionId: string;
  roles: readonly string[];
  /** The raw token, for propagation to other services. */
  token: string;
  expiresAt: number;
}

export type Access = 'public' | 'user' | 'admin';

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface ResponseDef {
  description: string;
  schema?: z.ZodType;
  /** Headers the response sets, documented in OpenAPI. */
  headers?: Record<string, string>;
  contentType?: string;
}

export interface RouteDef<B extends z.ZodType, Q extends z.ZodType, P extends z.ZodType> {
  method: Method;
  /** Express path syntax: /v1/users/:username */
  url: string;
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  access: Access;
  body?: B;
  query?: Q;
  params?: P;
  responses: Record<number, ResponseDef>;
  /** Catalogued problem codes this route may answer with (beyond the common ones). */
  errors?: readonly string[];
  /** Per-route body limit in bytes. */
  bodyLimit?: number;
  /**
   * A body the handler reads from `req.raw` as a stream (file uploads), documented with this
   * content type and schema instead of a JSON body; `body` must then be absent.
   */
  streamBody?: { contentType: string; schema: Record<string, unknown> };
  /**
   * The body may also come form-encoded (`application/x-www-form-urlencoded`, flat text fields;
   * a repeated field becomes an array), validated by the same `body` schema. @default false
   */
  formBody?: boolean;
  /**
   * Exempt from the general per-client rate limit (the JWKS: every verifier fetches and caches
   * it, and throttling it would fail sign-ins everywhere). @default false
   */
  unlimited?: boolean;
  handler: (req: ApiRequest<z.output<B>, z.output<Q>, z.output<P>>, reply: ApiReply) => Promise<unknown>;
}

/** How a handler shapes its answer beyond the value it returns (the framework stays out of handlers). */
export interface ApiReply {
  /** The status (200 unless set). */
  code(status: number): ApiReply;
  header(name: string, value: string): ApiReply;
  /** Answers a redirect; the handler returns nothing after it. */
  redirect(url: string, status: 301 | 302 | 303 | 307 | 308): void;
}

export interface ApiRequest<B, Q, P> {
  body: B;
  query: Q;
  params: P;
  principal: Principal | undefined;
  ip: string;
  headers: IncomingHttpHeaders;
  raw: Request;
}

export interface ApiOptions {
  /** Verifies the bearer token; throws UNAUTHENTICATED. */
  authenticate: (req: Request) => Promise<Principal>;
  /** Runs before each handler (rate limits); may throw a problem. */
  beforeHandler?: (
    req: Request,
    principal: Principal | undefined,
    route: { operationId: string },
  ) => Promise<void>;
  catalogue: Catalogue;
}

interface Recorded {
  def: RouteDef<z.ZodType, z.ZodType, z.ZodType>;
}

/** Methods whose requests are read for a JSON body (http.ts), whether or not the route takes one. */
const BODY_METHODS: readonly Method[] = ['POST', 'PUT', 'PATCH', 'DELETE'];

/**
 * The catalogued problems a route can answer with, by HTTP status: those it lists, plus what the
 * layers around every handler produce (the parser, the body reader, validation, authentication,
 * the general rate limit, the dependency check).
 */
export function problemStatuses(
  def: Pick<
    RouteDef<z.ZodType, z.ZodType, z.ZodType>,
    'operationId' | 'method' | 'access' | 'params' | 'errors' | 'unlimited'
  >,
  catalogue: Catalogue,
): Map<number, string[]> {
  // HEADERS_TOO_LARGE and URI_TOO_LONG come from the HTTP parser and router, before the route.
  const codes = new Set<string>(['VALIDATION_FAILED', 'HEADERS_TOO_LARGE', 'INTERNAL', 'UNAVAILABLE']);
  if (!def.unlimited) codes.add('RATE_LIMITED');
  for (const c of def.errors ?? []) codes.add(c);
  if (def.params) codes.add('URI_TOO_LONG');
  if (def.access !== 'public') codes.add('UNAUTHENTICATED');
  if (def.access === 'admin') codes.add('FORBIDDEN');
  if (BODY_METHODS.includes(def.method))
    for (const c of ['MALFORMED_JSON', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE']) codes.add(c);
  const byStatus = new Map<number, string[]>();
  for (const c of codes) {
    const spec = catalogue[c];
    if (!spec) throw new Error(`route ${def.operationId} lists unknown error code ${c}`);
    byStatus.set(spec.status, [...(byStatus.get(spec.status) ?? []), c]);
  }
  return byStatus;
}

function replyOf(res: Response): ApiReply {
  const reply: ApiReply = {
    code: (status) => {
      res.status(status);
      return reply;
    },
    header: (name, value) => {
      res.setHeader(name, value);
      return reply;
    },
    redirect: (url, status) => res.redirect(status, url),
  };
  return reply;
}

function zodProblem(err: z.ZodError, where: string) {
  return problems.VALIDATION_FAILED(
    err.issues.map((i) => `${[where, ...i.path].join('.')}: ${i.message}`).join('; '),
    {
      extensions: {
        errors: err.issues.map((i) => ({ path: [where, ...i.path].join('.'), message: i.message })),
      },
    },
  );
}

/**
 * Routes defined once with zod schemas: validated at runtime (unknown fields refused), typed in
 * handlers, and described in the OpenAPI 3.1 document served at /v1/openapi.json.
 */
export class Api {
  private readonly routes: Recorded[] = [];
  private catalogue: Catalogue;

  constructor(
    private readonly http: HttpApp,
    private readonly opts: ApiOptions,
  ) {
    this.catalogue = { ...commonErrors, ...opts.catalogue };
  }

  /** Adds a module's error catalogue, so its codes can be documented. */
  addCatalogue(c: Catalogue): void {
    for (const [code, spec] of Object.entries(c)) {
      const had = this.catalogue[code];
      if (had && had.status !== spec.status)
        throw new Error(`error code ${code} defined twice with different statuses`);
    }
    this.catalogue = { ...this.catalogue, ...c };
  }

  get errorCatalogue(): Catalogue {
    return this.catalogue;
  }

  route<
    B extends z.ZodType = z.ZodUndefined,
    Q extends z.ZodType = z.ZodUndefined,
    P extends z.ZodType = z.ZodUndefined,
  >(def: RouteDef<B, Q, P>): void {
    this.routes.push({ def: def as unknown as RouteDef<z.ZodType, z.ZodType, z.ZodType> });
    const parse = <T extends z.ZodType>(
      schema: T | undefined,
      value: unknown,
      where: string,
    ): z.output<T> => {
      if (!schema) return undefined as z.output<T>;
      const nul = findNul(value, where);
      if (nul) throw problems.VALIDATION_FAILED(`${nul}: text must not contain U+0000`);
      const r = schema.safeParse(value);
      if (!r.success) throw zodProblem(r.error, where);
      return r.data;
    };
    this.http.route(
      def.method,
      def.url,
      async (req: Request, res: Response) => {
        let principal: Principal | undefined;
        if (def.access !== 'public') {
          principal = await this.opts.authenticate(req);
          if (def.access === 'admin' && !principal.roles.includes('admin'))
            throw problems.FORBIDDEN('this route is for administrators');
        }
        if (!def.unlimited) await this.opts.beforeHandler?.(req, principal, def);
        // Express 5 gives parameters and the query on null-prototype objects; zod wants plain ones.
        const params = parse(def.params, { ...req.params }, 'params');
        const query = parse(def.query, { ...(req.query as Record<string, unknown>) }, 'query');
        const body = parse(def.body, req.body, 'body');
        const result = await def.handler(
          { body, query, params, principal, ip: req.ip ?? '', headers: req.headers, raw: req },
          replyOf(res),
        );
        if (res.headersSent) return;
        if (result === undefined) res.end();
        else if (typeof result === 'string' || Buffer.isBuffer(result)) res.send(result);
        else res.json(result);
      },
      {
        ...(def.bodyLimit ? { bodyLimit: def.bodyLimit } : {}),
        ...(def.streamBody ? { streamBody: true } : {}),
        ...(def.formBody ? { formBody: true } : {}),
      },
    );
  }

  /** The OpenAPI 3.1 document of every route defined so far. */
  openapi(info: { title: string; version: string; description?: string }): Record<string, unknown> {
    const paths: Record<string, Record<string, unknown>> = {};
    const catalogue = this.catalogue;
    for (const { def } of this.routes) {
      const path = def.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
      const parameters: unknown[] = [];
      for (const [where, schema] of [
        ['path', def.params],
        ['query', def.query],
      ] as const) {
        if (!schema) continue;
        const js = forbidNul(z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' })) as {
          properties?: Record<string, unknown>;
          required?: string[];
        };
        for (const [name, s] of Object.entries(js.properties ?? {}))
          parameters.push({
            name,
            in: where,
            required: where === 'path' || (js.required ?? []).includes(name),
            schema: s,
          });
      }
      const responses: Record<string, unknown> = {};
      for (const [status, r] of Object.entries(def.responses)) {
        responses[status] = {
          description: r.description,
          ...(r.headers
            ? {
                headers: Object.fromEntries(
                  Object.entries(r.headers).map(([h, d]) => [
                    h,
                    { description: d, schema: { type: 'string' } },
                  ]),
                ),
              }
            : {}),
          ...(r.schema
            ? {
                content: {
                  [r.contentType ?? 'application/json']: {
                    schema: z.toJSONSchema(r.schema, { io: 'output', unrepresentable: 'any' }),
                  },
                },
              }
            : {}),
        };
      }
      for (const [status, list] of problemStatuses(def, catalogue))
        responses[String(status)] ??= {
          description: list.map((c) => `\`${c}\``).join(', '),
          ...(status === 429
            ? {
                headers: {
                  'Retry-After': {
                    description: 'Seconds until the limit lets the request through.',
                    schema: { type: 'integer', minimum: 1 },
                  },
                },
              }
            : {}),
          content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
        };
      (paths[path] ??= {})[def.method.toLowerCase()] = {
        operationId: def.operationId,
        summary: def.summary,
        ...(def.description ? { description: def.description } : {}),
        tags: def.tags,
        ...(def.access === 'public' ? { security: [] } : {}),
        ...(parameters.length ? { parameters } : {}),
        ...(def.body
          ? {
              requestBody: {
                required: true,
                content: Object.fromEntries(
                  ['application/json', ...(def.formBody ? ['application/x-www-form-urlencoded'] : [])].map(
                    (type) => [
                      type,
                      {
                        schema: forbidNul(z.toJSONSchema(def.body!, { io: 'input', unrepresentable: 'any' })),
                      },
                    ],
                  ),
                ),
              },
            }
          : {}),
        ...(def.streamBody
          ? {
              requestBody: {
                required: true,
                content: { [def.streamBody.contentType]: { schema: def.streamBody.schema } },
              },
            }
          : {}),
        responses,
      };
    }
    return {
      openapi: '3.1.0',
      info,
      paths,
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
        schemas: {
          Problem: {
            type: 'object',
            description: 'RFC 9457 problem details; `code` is stable, switch on it.',
            required: ['type', 'title', 'status', 'code'],
            properties: {
              type: { type: 'string' },
              title: { type: 'string' },
              status: { type: 'integer' },
              code: { type: 'string', enum: Object.keys(catalogue) },
              detail: { type: 'string' },
              instance: { type: 'string' },
              requestId: { type: 'string' },
              errors: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: { path: { type: 'string' }, message: { type: 'string' } },
                },
              },
            },
          },
        },
      },
      security: [{ bearer: [] }],
    };
  }

  /** Every route defined, for tests that walk the whole surface. */
  get definitions(): readonly RouteDef<z.ZodType, z.ZodType, z.ZodType>[] {
    return this.routes.map((r) => r.def);
  }
}

/**
 * Free text that must not be blank: the length limit applies to what was sent, then it is trimmed.
 * The document carries both (maxLength, pattern `\\S`), so it is exactly as strict as the check.
 */
export function nonBlank(max: number) {
  return z.string().max(max).regex(/\S/, 'must not be blank').trim();
}

/** A PATCH body that must name at least one field; the document says so with minProperties. */
export function atLeastOneField<T extends z.ZodObject>(schema: T) {
  return schema
    .refine((b) => Object.keys(b).length > 0, 'send at least one field')
    .meta({ minProperties: 1 });
}

/** Reads the bearer token from the Authorization header; the scheme name is case-insensitive (RFC 9110 §11.1). */
export function bearerToken(req: Request): string | undefined {
  const h = req.headers.authorization;
  if (typeof h !== 'string') return undefined;
  const m = /^Bearer +([A-Za-z0-9._~+/-]+=*)$/i.exec(h.trim());
  return m?.[1];
}
