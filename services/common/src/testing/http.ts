import { randomInt } from 'node:crypto';
import type { Running } from '../service.ts';
import type { OpenApiChecker } from './openapi-check.ts';

/** An HTTP answer as the suites read it. */
export interface TestResponse {
  statusCode: number;
  headers: Record<string, unknown>;
  body: string;
  json: <T = Record<string, any>>() => T; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface CallOptions {
  /** Sent as JSON. */
  body?: unknown;
  /** Sent as it is, with a JSON content type (malformed or oversize bodies). */
  raw?: string;
  /** A Bearer access token. */
  token?: string;
  /** Values for the route's `:name` placeholders. */
  params?: Record<string, string>;
  query?: string;
  /** The client address; a fresh random one by default, so rate limits do not leak between cases. */
  from?: string;
  /** Another running instance than the suite's own. */
  on?: Running;
}

/** One request to a route as the OpenAPI document names it (`/v1/users/:id`). */
export type Call = (method: string, route: string, opts?: CallOptions) => Promise<TestResponse>;

/** A random client address in 10.0.0.0/8. */
export function randomIp(): string {
  return `10.${randomInt(255)}.${randomInt(255)}.${randomInt(254) + 1}`;
}

/**
 * A `call` for a service suite: sends over a real connection to `target()` (or `opts.on`) and checks
 * every answer against the served OpenAPI document.
 */
export function apiCaller(o: {
  target: () => Running;
  checker: () => OpenApiChecker;
  headers?: Record<string, string>;
}): Call {
  return async (method, route, opts = {}) => {
    let url = route;
    for (const [k, v] of Object.entries(opts.params ?? {})) url = url.replace(`:${k}`, encodeURIComponent(v));
    const res = await (opts.on ?? o.target()).inject({
      method,
      url: url + (opts.query ? `?${opts.query}` : ''),
      remoteAddress: opts.from ?? randomIp(),
      headers: {
        ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
        ...(opts.body !== undefined || opts.raw !== undefined ? { 'content-type': 'application/json' } : {}),
        ...o.headers,
      },
      ...(opts.raw !== undefined
        ? { payload: opts.raw }
        : opts.body !== undefined
          ? { payload: JSON.stringify(opts.body) }
          : {}),
    });
    o.checker().check(method, route, res);
    return res as unknown as TestResponse;
  };
}
