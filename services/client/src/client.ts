/** A problem+json answer from a Parley service, with its stable `code`. */
export class ParleyApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string | undefined,
    readonly problem: Record<string, unknown>,
  ) {
    super(`${status} ${code}${detail ? `: ${detail}` : ''}`);
    this.name = 'ParleyApiError';
  }
}

export interface ParleyClientOptions {
  /** Base URL of the Parley ingress or embedded server, e.g. http://localhost:8080. */
  baseUrl: string;
  /** Injected for tests or non-standard runtimes; defaults to the global fetch. */
  fetch?: typeof fetch;
  timeoutMs?: number;
}

export interface Readiness {
  ready: boolean;
  status: string;
  dependencies: Record<string, { state: 'starting' | 'up' | 'down'; since: string; error?: string }>;
}

/**
 * The TypeScript client for Parley's REST API. It grows with the API (accounts, conversations,
 * messages, WebSocket with resume); today it covers the operational endpoints.
 */
export class ParleyClient {
  private readonly base: string;
  private readonly fetchFn: typeof fetch;

  constructor(private readonly opts: ParleyClientOptions) {
    this.base = opts.baseUrl.replace(/\/+$/, '');
    this.fetchFn = opts.fetch ?? fetch;
  }

  /** Sends a request and returns the parsed JSON body; throws ParleyApiError for a problem answer. */
  async request<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const res = await this.fetchFn(this.base + path, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(this.opts.timeoutMs ?? 10_000),
    });
    const type = res.headers.get('content-type') ?? '';
    const parsed: unknown = type.includes('json') ? await res.json() : await res.text();
    if (type.startsWith('application/problem+json')) {
      const p = parsed as Record<string, unknown>;
      throw new ParleyApiError(res.status, String(p.code ?? 'UNKNOWN'), p.detail as string | undefined, p);
    }
    return { status: res.status, body: parsed as T };
  }

  /** True when the server process is alive (/healthz). */
  async alive(): Promise<boolean> {
    try {
      return (await this.request('GET', '/healthz')).status === 200;
    } catch {
      return false;
    }
  }

  /** Readiness with each dependency's state (/readyz answers 503 while not ready). */
  async readiness(): Promise<Readiness> {
    const { status, body } = await this.request<Omit<Readiness, 'ready'>>('GET', '/readyz');
    return { ready: status === 200, ...body };
  }

  /** The server's service name and version. */
  async version(): Promise<{ service: string; version: string; commit?: string }> {
    return (await this.request<{ service: string; version: string; commit?: string }>('GET', '/version'))
      .body;
  }
}
