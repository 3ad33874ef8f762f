export interface RequestOptions {
  query?: Record<string, string | number | undefined>;
  /** Send the access token (default: whenever the client holds one). */
  auth?: boolean;
  /** This request's timeout, over the client's `timeoutMs` (large uploads and downloads). */
  timeoutMs?: number;
  /** How a redirect is answered (default: followed by `request`, returned by `fetchRaw`). */
  redirect?: 'follow' | 'manual';
}

/** What the client's parts (media, notifications) need of ParleyClient: its authorized requests. */
export interface ApiTransport {
  request<T>(
    method: string,
    path: string,
    body?: unknown,
    options?: RequestOptions,
  ): Promise<{ status: number; body: T }>;
  fetchRaw(method: string, path: string, options?: RequestOptions): Promise<Response>;
  external(url: string, init: RequestInit, timeoutMs?: number): Promise<Response>;
}
