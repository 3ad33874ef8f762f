/**
 * A list+watch cache of one custom resource kind (client-go's informer, reduced): list, then watch
 * from the list's resourceVersion; when the watch ends (server timeout, 410 Gone, network), list
 * again. Every key whose spec or metadata changed is reported; status-only writes (our own) are not,
 * so writing status never triggers another reconcile.
 */
import type { KubeObject, KubePort, ResourceKind, WatchHandle } from '../kube/port.ts';

export function keyOf(o: KubeObject): string {
  return `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}

export function splitKey(key: string): { namespace: string; name: string } {
  const i = key.indexOf('/');
  return { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

/** Everything but status and the bookkeeping that changes on every write. */
function desiredState(o: KubeObject): string {
  const {
    resourceVersion: _rv,
    managedFields: _mf,
    ...meta
  } = o.metadata as KubeObject['metadata'] & {
    managedFields?: unknown;
  };
  const { status: _status, ...rest } = o as KubeObject & { status?: unknown };
  return JSON.stringify({ ...rest, metadata: meta });
}

export class Informer<T extends KubeObject> {
  private readonly cache = new Map<string, T>();
  private handle: WatchHandle | undefined;
  private stopped = true;
  private synced = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly kube: KubePort,
    private readonly kind: ResourceKind,
    /** A key changed: `object` is undefined when it was deleted. */
    private readonly onChange: (key: string, object: T | undefined) => void,
    private readonly onError: (err: unknown) => void = () => {},
    private readonly namespace?: string,
    private readonly relistDelayMs = 1000,
  ) {}

  get(key: string): T | undefined {
    return this.cache.get(key);
  }

  values(): T[] {
    return [...this.cache.values()];
  }

  get hasSynced(): boolean {
    return this.synced;
  }

  /** Records an object we just wrote, so the next reconcile does not read an older copy. */
  remember(object: T): void {
    const old = this.cache.get(keyOf(object));
    if (!old || Number(object.metadata.resourceVersion) >= Number(old.metadata.resourceVersion))
      this.cache.set(keyOf(object), object);
  }

  start(): void {
    // A fresh start (e.g. leadership regained) reports every object again.
    this.cache.clear();
    this.synced = false;
    this.stopped = false;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.handle?.stop();
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        const listed = await this.kube.list<T>(this.kind, this.namespace);
        const seen = new Set<string>();
        for (const o of listed.items) {
          seen.add(keyOf(o));
          this.apply(o);
        }
        for (const key of [...this.cache.keys()]) if (!seen.has(key)) this.drop(key);
        this.synced = true;
        if (this.stopped) break;
        this.handle = await this.kube.watch<T>(
          this.kind,
          listed.resourceVersion,
          (type, o) => (type === 'DELETED' ? this.drop(keyOf(o)) : this.apply(o)),
          this.namespace,
        );
        if (this.stopped) this.handle.stop();
        const ended = await this.handle.ended;
        if (ended && !this.stopped) this.onError(ended);
      } catch (err) {
        if (!this.stopped) this.onError(err);
      }
      if (!this.stopped)
        await new Promise<void>((r) => ((this.wake = r), setTimeout(r, this.relistDelayMs).unref()));
    }
  }

  private apply(o: T): void {
    const key = keyOf(o);
    const old = this.cache.get(key);
    this.cache.set(key, o);
    if (!old || desiredState(old) !== desiredState(o)) this.onChange(key, o);
  }

  private drop(key: string): void {
    if (!this.cache.delete(key)) return;
    this.onChange(key, undefined);
  }
}
