import { JSON_LIMITS } from './jsonshape.ts';
/** An entry of an error catalogue: a stable code clients can switch on. */
export interface ErrorSpec {
  readonly status: number;
  readonly title: string;
  /** Why it happens and what the client should do; used in the API docs. */
  readonly doc: string;
}

export type Catalogue = Readonly<Record<string, ErrorSpec>>;

export const PROBLEM_BASE = 'https://parley.dev/problems/';
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** RFC 9457 problem details with Parley's `code` extension. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  code: string;
  detail?: string;
  instance?: string;
  requestId?: string;
  [extension: string]: unknown;
}

/** An expected failure that becomes a problem+json response. */
export class ProblemError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    readonly title: string,
    readonly detail?: string,
    readonly extensions: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(detail ? `${code}: ${detail}` : code);
    this.name = 'ProblemError';
  }

  toProblem(instance?: string, requestId?: string): Problem {
    return {
      type: PROBLEM_BASE + this.code.toLowerCase().replace(/_/g, '-'),
      title: this.title,
      status: this.status,
      code: this.code,
      ...(this.detail ? { detail: this.detail } : {}),
      ...(instance ? { instance } : {}),
      ...(requestId ? { requestId } : {}),
      ...this.extensions,
    };
  }
}

export interface ProblemOptions {
  extensions?: Record<string, unknown>;
  headers?: Record<string, string>;
}

export type Problems<C extends Catalogue> = {
  readonly [K in keyof C & string]: (detail?: string, opts?: ProblemOptions) => ProblemError;
};

/** Turns a catalogue into typed constructors: `problems.NOT_FOUND('no such conversation')`. */
export function problemsOf<C extends Catalogue>(catalogue: C): Problems<C> {
  const out: Record<string, (detail?: string, opts?: ProblemOptions) => ProblemError> = {};
  for (const [code, spec] of Object.entries(catalogue)) {
    if (!/^[A-Z][A-Z0-9_]*$/.test(code)) throw new Error(`error code ${code} must be UPPER_SNAKE_CASE`);
    out[code] = (detail, opts) =>
      new ProblemError(code, spec.status, spec.title, detail, opts?.extensions, opts?.headers);
  }
  return out as Problems<C>;
}

/** Errors every Parley HTTP service can answer with. Services extend this catalogue. */
export const commonErrors = {
  MALFORMED_JSON: {
    status: 400,
    title: 'Malformed JSON body',
    doc: `The body is not valid JSON, or nests deeper than ${JSON_LIMITS.maxDepth} levels or holds more than ${JSON_LIMITS.maxKeys} object keys.`,
  },
  MALFORMED_REQUEST: {
    status: 400,
    title: 'Malformed HTTP request',
    doc: 'The request line, a header or the framing is not valid HTTP/1.1; the connection is closed.',
  },
  VALIDATION_FAILED: {
    status: 400,
    title: 'Request validation failed',
    doc: 'A body, query or path field has the wrong type, format or is unknown; `errors` lists each.',
  },
  UNAUTHENTICATED: {
    status: 401,
    title: 'Authentication required',
    doc: 'No access token, or it is expired, revoked, forged or for another audience.',
  },
  FORBIDDEN: { status: 403, title: 'Not allowed', doc: 'The caller is authenticated but may not do this.' },
  NOT_FOUND: {
    status: 404,
    title: 'Not found',
    doc: 'No such route or resource, or it is not visible to the caller.',
  },
  METHOD_NOT_ALLOWED: {
    status: 405,
    title: 'Method not allowed',
    doc: 'The path exists for other methods, which the `Allow` header lists.',
  },
  REQUEST_TIMEOUT: {
    status: 408,
    title: 'Request timeout',
    doc: 'The headers (HTTP_HEADERS_TIMEOUT_MS) or the whole request (HTTP_REQUEST_TIMEOUT_MS) arrived too slowly; the connection is closed.',
  },
  CONFLICT: { status: 409, title: 'Conflict', doc: 'The request conflicts with the current state.' },
  PAYLOAD_TOO_LARGE: {
    status: 413,
    title: 'Payload too large',
    doc: 'The body exceeds the configured size limit.',
  },
  URI_TOO_LONG: {
    status: 414,
    title: 'URI too long',
    doc: 'A path segment is longer than 1,024 characters (percent-encoded).',
  },
  UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    title: 'Unsupported media type',
    doc: 'Send `Content-Type: application/json`.',
  },
  RATE_LIMITED: {
    status: 429,
    title: 'Too many requests',
    doc: 'A rate limit was hit; retry after the `Retry-After` header (seconds).',
  },
  HEADERS_TOO_LARGE: {
    status: 431,
    title: 'Request header fields too large',
    doc: 'The request line and headers together exceed 16 KiB; the connection is closed.',
  },
  INTERNAL: {
    status: 500,
    title: 'Internal error',
    doc: 'An unexpected failure; it is logged with the request id.',
  },
  UNAVAILABLE: {
    status: 503,
    title: 'Service unavailable',
    doc: 'A dependency is down or the service is draining; retry with backoff.',
  },
} as const satisfies Catalogue;

export const problems = problemsOf(commonErrors);
