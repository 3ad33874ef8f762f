import { z } from 'zod';

/** One configuration setting: where it comes from, how it is parsed, what it means. */
export interface Field<T, Optional extends boolean = boolean> {
  readonly kind: 'field';
  readonly env: string;
  readonly schema: z.ZodType<T, string>;
  readonly doc: string;
  /** Default in the same string form as the environment variable. */
  readonly default?: string;
  readonly optional: Optional;
  /** Secrets are never logged and are shown as `***` in dumps. */
  readonly secret: boolean;
}

export interface Spec {
  readonly [key: string]: Field<unknown> | Spec;
}

export type Infer<S extends Spec> = {
  readonly [K in keyof S]: S[K] extends Field<infer T, infer O>
    ? O extends true
      ? T | undefined
      : T
    : S[K] extends Spec
      ? Infer<S[K]>
      : never;
};

interface FieldOptions {
  env: string;
  doc: string;
  default?: string;
  secret?: boolean;
}

/** A required setting (or one with a default). */
export function field<T>(schema: z.ZodType<T, string>, opts: FieldOptions): Field<T, false> {
  return { kind: 'field', schema, optional: false, secret: opts.secret ?? false, ...opts };
}

/** A setting that may be absent; absence usually selects an embedded adapter. */
export function optionalField<T>(schema: z.ZodType<T, string>, opts: FieldOptions): Field<T, true> {
  return { kind: 'field', schema, optional: true, secret: opts.secret ?? false, ...opts };
}

function splitList(v: string): string[] {
  return v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** Parsers from the string form of an environment variable. */
export const parse = {
  string: () => z.string().min(1),
  int: (min: number, max: number) =>
    z
      .string()
      .regex(/^-?\d+$/, 'must be an integer')
      .transform(Number)
      .pipe(
        z
          .number()
          .int()
          .min(min, `must be between ${min} and ${max}`)
          .max(max, `must be between ${min} and ${max}`),
      ),
  number: (min: number, max: number) =>
    z
      .string()
      .regex(/^-?\d+(\.\d+)?$/, 'must be a number')
      .transform(Number)
      .pipe(
        z
          .number()
          .min(min, `must be between ${min} and ${max}`)
          .max(max, `must be between ${min} and ${max}`),
      ),
  bool: () =>
    z
      .string()
      .toLowerCase()
      .pipe(z.enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'must be true or false' }))
      .transform((v) => v === 'true' || v === '1' || v === 'yes'),
  oneOf: <const V extends readonly [string, ...string[]]>(values: V) =>
    z.enum(values, { error: `must be one of ${values.join(', ')}` }),
  list: () =>
    z.string().transform((v, ctx) => {
      const items = splitList(v);
      if (items.length === 0) {
        ctx.addIssue({ code: 'custom', message: 'must list at least one item' });
        return z.NEVER;
      }
      return items;
    }),
  hostPorts: () =>
    z.string().transform((v, ctx) => {
      const items = splitList(v);
      if (items.length === 0) {
        ctx.addIssue({ code: 'custom', message: 'must list at least one host:port' });
        return z.NEVER;
      }
      const out: { host: string; port: number }[] = [];
      for (const item of items) {
        const m = /^([A-Za-z0-9.\-_]+|\[[0-9a-fA-F:]+\]):(\d{1,5})$/.exec(item);
        const port = m ? Number(m[2]) : NaN;
        if (!m || port < 1 || port > 65535) {
          ctx.addIssue({ code: 'custom', message: `"${item}" is not host:port` });
          return z.NEVER;
        }
        out.push({ host: m[1]!.replace(/^\[|\]$/g, ''), port });
      }
      return out;
    }),
  url: (protocols: readonly string[]) =>
    z.string().refine(
      (v) => {
        try {
          return protocols.includes(new URL(v).protocol.replace(/:$/, ''));
        } catch {
          return false;
        }
      },
      `must be a URL with scheme ${protocols.join(' or ')}`,
    ),
  /**
   * A MongoDB connection string: like a URL, but a replica set lists several hosts
   * (`mongodb://user:pw@a:27017,b:27017/db?replicaSet=rs0`), which WHATWG URL parsing refuses.
   */
  mongoUrl: () =>
    z.string().refine((v) => {
      const m = /^mongodb(\+srv)?:\/\/(?:[^@/?#]+@)?([^/?#@]+)(?:\/[^?#]*)?(?:\?[^#]*)?$/.exec(v);
      if (!m) return false;
      const hosts = m[2]!.split(',');
      if (m[1] && hosts.length !== 1) return false;
      return hosts.every((h) => /^(?:[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/.test(h));
    }, 'must be a MongoDB connection string (mongodb://host[:port][,host…]/db or mongodb+srv://host/db)'),
};

export class ConfigError extends Error {
  constructor(
    readonly path: string,
    readonly env: string,
    message: string,
  ) {
    super(`in ${path} (${env}): ${message}`);
    this.name = 'ConfigError';
  }
}

function isField(v: Field<unknown> | Spec): v is Field<unknown> {
  return (v as Field<unknown>).kind === 'field';
}

function walk(spec: Spec, prefix: string, visit: (path: string, f: Field<unknown>) => void): void {
  for (const [key, value] of Object.entries(spec)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (isField(value)) visit(path, value);
    else walk(value, path, visit);
  }
}

function deepFreeze<T>(obj: T): T {
  if (obj && typeof obj === 'object' && !Object.isFrozen(obj)) {
    Object.freeze(obj);
    for (const v of Object.values(obj)) deepFreeze(v);
  }
  return obj;
}

/**
 * Parses the environment against a spec once. Throws ConfigError naming the first bad setting
 * by its path and variable; the result is deeply frozen.
 */
export function loadConfig<S extends Spec>(spec: S, env: NodeJS.ProcessEnv = process.env): Infer<S> {
  const out: Record<string, unknown> = {};
  walk(spec, '', (path, f) => {
    const raw = env[f.env];
    const value = raw === undefined || raw.trim() === '' ? f.default : raw.trim();
    let parsed: unknown = undefined;
    if (value === undefined) {
      if (!f.optional) throw new ConfigError(path, f.env, 'is required');
    } else {
      const r = f.schema.safeParse(value);
      if (!r.success) {
        const issue = r.error.issues[0];
        const shown = f.secret ? '' : ` (got "${value.length > 60 ? value.slice(0, 60) + '…' : value}")`;
        throw new ConfigError(path, f.env, `${issue?.message ?? 'is invalid'}${shown}`);
      }
      parsed = r.data;
    }
    const keys = path.split('.');
    let node = out;
    for (const k of keys.slice(0, -1)) node = (node[k] ??= {}) as Record<string, unknown>;
    node[keys[keys.length - 1]!] = parsed;
  });
  return deepFreeze(out) as Infer<S>;
}

export interface ConfigDocRow {
  env: string;
  path: string;
  default: string;
  required: boolean;
  secret: boolean;
  doc: string;
}

/** The reference table of every setting, for the README. */
export function describeConfig(spec: Spec): ConfigDocRow[] {
  const rows: ConfigDocRow[] = [];
  walk(spec, '', (path, f) =>
    rows.push({
      env: f.env,
      path,
      default: f.default ?? '',
      required: !f.optional && f.default === undefined,
      secret: f.secret,
      doc: f.doc,
    }),
  );
  return rows;
}

/** The config with secrets masked, for a start-up log line. */
export function redactConfig<S extends Spec>(spec: S, config: Infer<S>): unknown {
  const copy = JSON.parse(JSON.stringify(config ?? {})) as Record<string, unknown>;
  walk(spec, '', (path, f) => {
    if (!f.secret) return;
    const keys = path.split('.');
    let node: Record<string, unknown> | undefined = copy;
    for (const k of keys.slice(0, -1)) node = node?.[k] as Record<string, unknown> | undefined;
    const last = keys[keys.length - 1]!;
    if (node && node[last] !== undefined) node[last] = '***';
  });
  return copy;
}
