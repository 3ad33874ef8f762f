interface Template {
  url: string;
  segments: string[];
  pattern: RegExp;
  methods: Set<string>;
}

/**
 * The methods each path answers, for 405 Method Not Allowed with an `Allow` header. Express's
 * router only says "no route for this method"; this remembers every route template it was given.
 * As in OpenAPI, a concrete path wins over a templated one: `/v1/users/me/public-key` (PUT) is not
 * `/v1/users/{username}/public-key` (GET) with username "me".
 */
export class RouteTable {
  private readonly templates = new Map<string, Template>();
  private readonly catchAll = new Set<string>();

  /** Records a route in Express path syntax (`/v1/users/:username`, `*`). */
  add(method: string, url: string): void {
    if (url === '*' || url === '/*') {
      this.catchAll.add(method.toUpperCase());
      return;
    }
    let t = this.templates.get(url);
    if (!t) {
      const segments = url.split('/');
      const source = segments
        .map((seg) =>
          seg.startsWith(':') ? '[^/]+' : seg === '*' ? '.*' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
        )
        .join('/');
      t = { url, segments, pattern: new RegExp(`^${source}$`), methods: new Set() };
      this.templates.set(url, t);
    }
    t.methods.add(method.toUpperCase());
  }

  /**
   * The template a path (without query) belongs to, and the methods it answers, sorted (catch-all
   * ones such as the CORS preflight `OPTIONS *` included); undefined for unknown paths.
   */
  resolve(path: string): { url: string; allow: string[] } | undefined {
    let best: Template | undefined;
    for (const t of this.templates.values())
      if (t.pattern.test(path) && (!best || moreConcrete(t, best))) best = t;
    if (!best) return undefined;
    return { url: best.url, allow: [...new Set([...best.methods, ...this.catchAll])].sort() };
  }
}

/** Whether `a` is more concrete than `b`: at the first segment where they differ in kind, a's is static. */
function moreConcrete(a: Template, b: Template): boolean {
  for (let i = 0; i < Math.min(a.segments.length, b.segments.length); i++) {
    const pa = a.segments[i]!.startsWith(':');
    const pb = b.segments[i]!.startsWith(':');
    if (pa !== pb) return pb;
  }
  return false;
}
