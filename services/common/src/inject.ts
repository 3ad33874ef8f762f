import { request, type IncomingHttpHeaders } from 'node:http';

/** One HTTP request for tests: method, URL, headers, payload in; status, headers, body out. */
export interface InjectRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  /** An object is sent as JSON (with its content type); a string or Buffer as it is. */
  payload?: unknown;
  /**
   * The client address the server sees. An IPv4 address a.b.c.d is sent from 127.b.c.d: every
   * 127.0.0.0/8 address is local on Linux, so tests can spread over many "clients" for real.
   */
  remoteAddress?: string;
}

export interface InjectResponse {
  statusCode: number;
  headers: IncomingHttpHeaders;
  body: string;
  json(): any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** Sends one request over a real connection to a listening server at `base`. */
export function inject(base: string, req: InjectRequest): Promise<InjectResponse> {
  const url = new URL(req.url, base);
  const headers: Record<string, string> = { ...req.headers };
  let body: Buffer | undefined;
  if (req.payload !== undefined) {
    if (typeof req.payload === 'string' || Buffer.isBuffer(req.payload)) body = Buffer.from(req.payload);
    else {
      body = Buffer.from(JSON.stringify(req.payload));
      headers['content-type'] ??= 'application/json';
    }
    headers['content-length'] = String(body.length);
  }
  const ipv4 = /^\d+\.(\d+)\.(\d+)\.(\d+)$/.exec(req.remoteAddress ?? '');
  return new Promise((resolve, reject) => {
    const r = request(
      url,
      {
        method: req.method,
        headers,
        agent: false,
        ...(ipv4 ? { localAddress: `127.${ipv4[1]}.${ipv4[2]}.${ipv4[3]}` } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({
            statusCode: res.statusCode ?? 0,
            headers: res.headers,
            body: text,
            json: () => JSON.parse(text),
          });
        });
      },
    );
    r.on('error', reject);
    r.end(body);
  });
}
