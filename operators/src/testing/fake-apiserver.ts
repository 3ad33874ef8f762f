/**
 * A small Kubernetes API server (node:http) for tests, speaking the REST shapes client-node uses:
 * list and watch (`?watch=true&resourceVersion=N`, one JSON event per line on a chunked response),
 * get/create/replace/delete, merge-patch and JSON-patch, the status and scale subresources, 409 on a
 * stale resourceVersion or an existing name, 404s as metav1.Status, metadata.generation bumped on
 * spec changes, finalizers that hold a deletion (deletionTimestamp set) until they are removed.
 *
 * Deployments act as if a controller ran them: status.replicas and readyReplicas follow
 * spec.replicas unless paused. No admission, no CEL, no authn: tests of the schema live elsewhere.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

interface Collection {
  prefix: string;
  plural: string;
  kind: string;
  apiVersion: string;
  /** Writes to the main resource leave status alone; /status writes only status. */
  statusSubresource: boolean;
  scaleSubresource: boolean;
}

const COLLECTIONS: Collection[] = [
  ['/apis/parley.dev/v1alpha1', 'topics', 'Topic', 'parley.dev/v1alpha1', true, false] as const,
  [
    '/apis/parley.dev/v1alpha1',
    'consumerautoscalers',
    'ConsumerAutoscaler',
    'parley.dev/v1alpha1',
    true,
    false,
  ] as const,
  ['/apis/apps/v1', 'deployments', 'Deployment', 'apps/v1', true, true] as const,
  ['/apis/coordination.k8s.io/v1', 'leases', 'Lease', 'coordination.k8s.io/v1', false, false] as const,
  ['/api/v1', 'events', 'Event', 'v1', false, false] as const,
].map(([prefix, plural, kind, apiVersion, statusSubresource, scaleSubresource]) => ({
  prefix,
  plural,
  kind,
  apiVersion,
  statusSubresource,
  scaleSubresource,
}));

type Json = Record<string, unknown>;
interface Obj extends Json {
  metadata: Json & { name: string; namespace: string; resourceVersion?: string; finalizers?: string[] };
  spec?: Json;
  status?: Json;
}
type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';
interface Change {
  rv: number;
  plural: string;
  namespace: string;
  type: EventType;
  object: Obj;
}
interface Watcher {
  plural: string;
  namespace: string | undefined;
  res: ServerResponse;
}

class HttpError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

const clone = <T>(v: T): T => structuredClone(v);

function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const out: Json =
    typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as Json) } : {};
  for (const [k, v] of Object.entries(patch as Json)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function jsonPatch(doc: Obj, ops: { op: string; path: string; value?: unknown }[]): Obj {
  const out = clone(doc) as Json;
  for (const { op, path, value } of ops) {
    const keys = path
      .split('/')
      .slice(1)
      .map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = keys.pop()!;
    let node = out as Json | unknown[];
    for (const k of keys) {
      const next = (node as Json)[k];
      if (typeof next !== 'object' || next === null) throw new HttpError(422, 'Invalid', `no path ${path}`);
      node = next as Json;
    }
    const arr = Array.isArray(node);
    if (op === 'test') {
      if (JSON.stringify((node as Json)[last]) !== JSON.stringify(value))
        throw new HttpError(422, 'Invalid', `test failed at ${path}`);
    } else if (op === 'remove') {
      if (arr) (node as unknown[]).splice(Number(last), 1);
      else delete (node as Json)[last];
    } else if (op === 'add' && arr) {
      (node as unknown[]).splice(last === '-' ? (node as unknown[]).length : Number(last), 0, value);
    } else if (op === 'add' || op === 'replace') {
      (node as Json)[last] = clone(value);
    } else throw new HttpError(422, 'Invalid', `unsupported op ${op}`);
  }
  return out as Obj;
}

export class FakeApiServer {
  private readonly server: Server;
  private readonly objects = new Map<string, Obj>();
  private readonly log: Change[] = [];
  private readonly watchers = new Set<Watcher>();
  private rv = 0;
  /** Requests served, as "METHOD path", for assertions on what the operator called. */
  readonly requests: string[] = [];

  private constructor() {
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  static async start(): Promise<FakeApiServer> {
    const fake = new FakeApiServer();
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const w of this.watchers) w.res.end();
    this.watchers.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Ends every open watch, as an API server restart or a load balancer timeout would. */
  dropWatches(): void {
    for (const w of this.watchers) w.res.end();
    this.watchers.clear();
  }

  // --- in-process access for tests (same semantics as HTTP) ---

  /** kubectl apply: create, or replace spec/metadata labels+annotations of an existing object. */
  apply(plural: string, object: { metadata: { name: string; namespace: string } } & Json): Obj {
    const c = this.collection(plural);
    const current = this.objects.get(this.key(plural, object.metadata.namespace, object.metadata.name));
    if (!current) return this.create(c, object.metadata.namespace, clone(object) as Obj);
    const next = clone(current);
    Object.assign(next, clone(object), { metadata: { ...current.metadata, ...clone(object.metadata) } });
    next.status = current.status;
    next.metadata.resourceVersion = current.metadata.resourceVersion;
    return this.replace(c, next, 'main');
  }

  get(plural: string, namespace: string, name: string): Obj | undefined {
    const o = this.objects.get(this.key(plural, namespace, name));
    return o && clone(o);
  }

  list(plural: string, namespace?: string): Obj[] {
    return [...this.objects.entries()]
      .filter(([k]) => k.startsWith(`${plural}/${namespace === undefined ? '' : `${namespace}/`}`))
      .map(([, o]) => clone(o));
  }

  delete(plural: string, namespace: string, name: string): void {
    this.remove(this.collection(plural), namespace, name);
  }

  // --- storage ---

  private key(plural: string, namespace: string, name: string): string {
    return `${plural}/${namespace}/${name}`;
  }

  private collection(plural: string): Collection {
    const c = COLLECTIONS.find((x) => x.plural === plural);
    if (!c) throw new Error(`unknown collection ${plural}`);
    return c;
  }

  private record(c: Collection, type: EventType, object: Obj): void {
    const change = {
      rv: this.rv,
      plural: c.plural,
      namespace: object.metadata.namespace,
      type,
      object: clone(object),
    };
    this.log.push(change);
    for (const w of this.watchers) this.send(w, change);
  }

  private send(w: Watcher, change: Change): void {
    if (w.plural !== change.plural || (w.namespace !== undefined && w.namespace !== change.namespace)) return;
    w.res.write(`${JSON.stringify({ type: change.type, object: change.object })}\n`);
  }

  private simulateController(c: Collection, o: Obj): void {
    if (c.plural !== 'deployments' || o.spec?.paused === true) return;
    const replicas = typeof o.spec?.replicas === 'number' ? o.spec.replicas : 1;
    o.status = { ...o.status, replicas, readyReplicas: replicas, availableReplicas: replicas };
  }

  /** A Lease's times are MicroTime: the real API server refuses any other precision with 400. */
  private checkMicroTimes(c: Collection, o: Obj): void {
    if (c.plural !== 'leases') return;
    for (const field of ['acquireTime', 'renewTime']) {
      const v = o.spec?.[field];
      if (v !== undefined && (typeof v !== 'string' || !/\.\d{6}(Z|[+-]\d\d:\d\d)$/.test(v)))
        throw new HttpError(
          400,
          'BadRequest',
          `Lease in version "v1" cannot be handled as a Lease: parsing time ${JSON.stringify(v)} as "2006-01-02T15:04:05.000000Z07:00"`,
        );
    }
  }

  private create(c: Collection, namespace: string, o: Obj): Obj {
    this.checkMicroTimes(c, o);
    const meta = (o.metadata ??= { name: '', namespace }) as Obj['metadata'];
    if (!meta.name && typeof meta.generateName === 'string')
      meta.name = `${meta.generateName}${randomBytes(3).toString('hex')}`;
    if (!meta.name) throw new HttpError(422, 'Invalid', 'metadata.name: Required value');
    meta.namespace = namespace;
    const key = this.key(c.plural, namespace, meta.name);
    if (this.objects.has(key))
      throw new HttpError(409, 'AlreadyExists', `${c.plural} "${meta.name}" already exists`);
    Object.assign(meta, {
      uid: randomUUID(),
      creationTimestamp: new Date().toISOString(),
      generation: 1,
      resourceVersion: String(++this.rv),
    });
    delete meta.deletionTimestamp;
    o.apiVersion = c.apiVersion;
    o.kind = c.kind;
    if (c.statusSubresource) delete o.status;
    this.simulateController(c, o);
    this.objects.set(key, o);
    this.record(c, 'ADDED', o);
    return clone(o);
  }

  /** Replaces the main resource (spec + metadata) or, with part 'status', only the status. */
  private replace(c: Collection, next: Obj, part: 'main' | 'status'): Obj {
    this.checkMicroTimes(c, next);
    const key = this.key(c.plural, next.metadata.namespace, next.metadata.name);
    const current = this.objects.get(key);
    if (!current) throw new HttpError(404, 'NotFound', `${c.plural} "${next.metadata.name}" not found`);
    const givenRv = next.metadata.resourceVersion;
    if (givenRv !== undefined && givenRv !== '' && givenRv !== current.metadata.resourceVersion) {
      throw new HttpError(
        409,
        'Conflict',
        `Operation cannot be fulfilled on ${c.plural} "${next.metadata.name}": the object has been modified; please apply your changes to the latest version and try again`,
      );
    }
    let stored: Obj;
    if (part === 'status') stored = { ...clone(current), status: clone(next.status) };
    else {
      stored = clone(next);
      for (const k of ['uid', 'creationTimestamp', 'generation', 'deletionTimestamp'])
        stored.metadata[k] = current.metadata[k];
      if (c.statusSubresource) stored.status = clone(current.status);
      if (JSON.stringify(current.spec) !== JSON.stringify(next.spec))
        stored.metadata.generation = Number(current.metadata.generation ?? 0) + 1;
    }
    stored.apiVersion = c.apiVersion;
    stored.kind = c.kind;
    stored.metadata.resourceVersion = String(++this.rv);
    this.simulateController(c, stored);
    if (stored.metadata.deletionTimestamp !== undefined && (stored.metadata.finalizers ?? []).length === 0) {
      this.objects.delete(key);
      this.record(c, 'DELETED', stored);
      return clone(stored);
    }
    this.objects.set(key, stored);
    this.record(c, 'MODIFIED', stored);
    return clone(stored);
  }

  private remove(c: Collection, namespace: string, name: string): Obj {
    const key = this.key(c.plural, namespace, name);
    const current = this.objects.get(key);
    if (!current) throw new HttpError(404, 'NotFound', `${c.plural} "${name}" not found`);
    if ((current.metadata.finalizers ?? []).length > 0) {
      if (current.metadata.deletionTimestamp !== undefined) return clone(current);
      const next = clone(current);
      next.metadata.deletionTimestamp = new Date().toISOString();
      next.metadata.resourceVersion = String(++this.rv);
      this.objects.set(key, next);
      this.record(c, 'MODIFIED', next);
      return clone(next);
    }
    this.objects.delete(key);
    current.metadata.resourceVersion = String(++this.rv);
    this.record(c, 'DELETED', current);
    return clone(current);
  }

  // --- HTTP ---

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    this.requests.push(`${req.method} ${url.pathname}`);
    try {
      const m =
        /^(\/apis\/[^/]+\/[^/]+|\/api\/v1)(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+))?(?:\/([^/]+))?$/.exec(
          url.pathname,
        );
      const c = m && COLLECTIONS.find((x) => x.prefix === m[1] && x.plural === m[3]);
      if (!m || !c) throw new HttpError(404, 'NotFound', `the server could not find the requested resource`);
      const [, , namespace, , name, sub] = m;
      const body = await readBody(req);
      const watch = url.searchParams.get('watch');
      if (req.method === 'GET' && !name && (watch === 'true' || watch === '1')) {
        return this.watch(c, namespace, url.searchParams.get('resourceVersion'), res);
      }
      if (req.method === 'GET' && !name) {
        const items = this.list(c.plural, namespace);
        return reply(res, 200, {
          apiVersion: c.apiVersion,
          kind: `${c.kind}List`,
          metadata: { resourceVersion: String(this.rv) },
          items,
        });
      }
      if (req.method === 'POST' && !name) {
        if (!namespace) throw new HttpError(405, 'MethodNotAllowed', 'create needs a namespace');
        return reply(res, 201, this.create(c, namespace, body as Obj));
      }
      if (!name || !namespace) throw new HttpError(405, 'MethodNotAllowed', `${req.method} not allowed here`);
      if (
        sub !== undefined &&
        !(sub === 'status' && c.statusSubresource) &&
        !(sub === 'scale' && c.scaleSubresource)
      )
        throw new HttpError(404, 'NotFound', `no subresource ${sub}`);
      const current = this.objects.get(this.key(c.plural, namespace, name));
      if (!current)
        throw new HttpError(404, 'NotFound', `${c.plural}.${c.apiVersion.split('/')[0]} "${name}" not found`);

      if (sub === 'scale')
        return reply(
          res,
          200,
          this.scale(c, current, req.method ?? 'GET', req.headers['content-type'], body),
        );
      switch (req.method) {
        case 'GET':
          return reply(res, 200, clone(current));
        case 'PUT':
          return reply(
            res,
            200,
            this.replace(
              c,
              { ...(body as Obj), metadata: { ...(body as Obj).metadata, namespace, name } },
              sub === 'status' ? 'status' : 'main',
            ),
          );
        case 'PATCH': {
          const next = patched(current, req.headers['content-type'], body);
          return reply(res, 200, this.replace(c, next, sub === 'status' ? 'status' : 'main'));
        }
        case 'DELETE':
          return reply(res, 200, this.remove(c, namespace, name));
      }
      throw new HttpError(405, 'MethodNotAllowed', `${req.method} not allowed`);
    } catch (err) {
      const e = err instanceof HttpError ? err : new HttpError(500, 'InternalError', String(err));
      reply(res, e.code, {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: e.message,
        reason: e.reason,
        code: e.code,
      });
    }
  }

  private scale(c: Collection, d: Obj, method: string, contentType: string | undefined, body: unknown): Obj {
    const view = (o: Obj): Obj => ({
      apiVersion: 'autoscaling/v1',
      kind: 'Scale',
      metadata: {
        name: o.metadata.name,
        namespace: o.metadata.namespace,
        resourceVersion: o.metadata.resourceVersion,
        uid: o.metadata.uid,
      },
      spec: { replicas: o.spec?.replicas ?? 1 },
      status: { replicas: o.status?.replicas ?? 0, selector: '' },
    });
    if (method === 'GET') return view(d);
    const scale = method === 'PATCH' ? patched(view(d), contentType, body) : (body as Obj);
    const replicas = scale.spec?.replicas;
    if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0)
      throw new HttpError(422, 'Invalid', `spec.replicas: Invalid value: ${JSON.stringify(replicas)}`);
    const next = clone(d);
    next.spec = { ...next.spec, replicas };
    next.metadata.resourceVersion = scale.metadata?.resourceVersion;
    return view(this.replace(c, next, 'main'));
  }

  private watch(
    c: Collection,
    namespace: string | undefined,
    from: string | null,
    res: ServerResponse,
  ): void {
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    const w: Watcher = { plural: c.plural, namespace, res };
    if (from === null || from === '' || from === '0') {
      for (const o of this.list(c.plural, namespace))
        this.send(w, {
          rv: this.rv,
          plural: c.plural,
          namespace: o.metadata.namespace,
          type: 'ADDED',
          object: o,
        });
    } else {
      const since = Number(from);
      for (const change of this.log) if (change.rv > since) this.send(w, change);
    }
    this.watchers.add(w);
    res.on('close', () => this.watchers.delete(w));
  }
}

function patched(current: Obj, contentType: string | undefined, body: unknown): Obj {
  const type = (contentType ?? '').split(';')[0]!.trim();
  if (type === 'application/merge-patch+json') return mergePatch(clone(current), body) as Obj;
  if (type === 'application/json-patch+json') {
    if (!Array.isArray(body))
      throw new HttpError(400, 'BadRequest', 'a JSON patch must be a list of operations');
    return jsonPatch(current, body);
  }
  throw new HttpError(
    415,
    'UnsupportedMediaType',
    `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json (got ${type})`,
  );
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  if (chunks.length === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'BadRequest', 'body is not JSON');
  }
}

function reply(res: ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}
