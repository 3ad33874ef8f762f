/**
 * A tiny typed schema language for the chart's values. One tree of parameters is the source of
 * the defaults the cdk8s app synthesizes with, the chart's documented values.yaml (`## @param`),
 * its values.schema.json, and the Helm expression each knob becomes in the generated templates.
 */

interface ParamBase<K extends string, T> {
  readonly kind: K;
  readonly default: T;
  readonly doc: string;
}

export interface IntParam extends ParamBase<'int', number> {
  readonly min?: number;
  readonly max?: number;
}
export interface StrParam extends ParamBase<'str', string> {
  readonly enum?: readonly string[];
  readonly pattern?: string;
  /** Values refused even though they match the pattern. */
  readonly forbid?: readonly string[];
}
export type BoolParam = ParamBase<'bool', boolean>;
/** A free-form object or list, rendered with toYaml (resources, tolerations, annotations…). */
export interface BlockParam<T = unknown> extends ParamBase<'block', T> {
  readonly schema: Record<string, unknown>;
}
export interface Group<C extends Record<string, Param> = Record<string, Param>> {
  readonly kind: 'group';
  readonly doc: string;
  readonly children: C;
}
export type Param = IntParam | StrParam | BoolParam | BlockParam | Group;

export type Infer<P> =
  P extends Group<infer C>
    ? { [K in keyof C]: Infer<C[K]> }
    : P extends ParamBase<string, infer T>
      ? T
      : never;

export const int = (d: number, doc: string, o: { min?: number; max?: number } = {}): IntParam => ({
  kind: 'int',
  default: d,
  doc,
  ...o,
});
export const str = (
  d: string,
  doc: string,
  o: { enum?: readonly string[]; pattern?: string; forbid?: readonly string[] } = {},
): StrParam => ({
  kind: 'str',
  default: d,
  doc,
  ...o,
});
export const bool = (d: boolean, doc: string): BoolParam => ({ kind: 'bool', default: d, doc });
export const block = <T>(d: T, doc: string, schema: Record<string, unknown>): BlockParam<T> => ({
  kind: 'block',
  default: d,
  doc,
  schema,
});
export const group = <C extends Record<string, Param>>(doc: string, children: C): Group<C> => ({
  kind: 'group',
  doc,
  children,
});

/** The default values of a parameter tree. */
export function defaultsOf<P extends Param>(p: P): Infer<P> {
  if (p.kind !== 'group') return structuredClone(p.default) as Infer<P>;
  return Object.fromEntries(Object.entries(p.children).map(([k, c]) => [k, defaultsOf(c)])) as Infer<P>;
}

/** The parameter at a dotted path, or an error naming the path. */
export function paramAt(root: Param, path: string): Param {
  let p: Param = root;
  for (const part of path.split('.')) {
    const next: Param | undefined = p.kind === 'group' ? p.children[part] : undefined;
    if (!next) throw new Error(`no value '${path}' in the chart's values`);
    p = next;
  }
  return p;
}

/** The value at a dotted path of a values object. */
export function valueAt(values: unknown, path: string): unknown {
  let v: unknown = values;
  for (const part of path.split('.')) v = (v as Record<string, unknown> | undefined)?.[part];
  return v;
}

/** Every leaf with its dotted path, depth first, in declaration order. */
export function* leaves(p: Param, prefix = ''): Generator<[string, Exclude<Param, Group>]> {
  if (p.kind !== 'group') {
    yield [prefix, p];
    return;
  }
  for (const [k, c] of Object.entries(p.children)) yield* leaves(c, prefix ? `${prefix}.${k}` : k);
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Overlays user values on the defaults the way Helm merges values files: maps merge key by key,
 * everything else (lists included) is replaced.
 */
export function mergeValues<T>(base: T, overlay: unknown): T {
  if (!isObject(base) || !isObject(overlay)) return (overlay === undefined ? base : overlay) as T;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(overlay)) out[k] = k in out ? mergeValues(out[k], v) : v;
  return out as T;
}

/** values.schema.json (draft-07) of a parameter tree: unknown keys and wrong types fail. */
export function jsonSchemaOf(p: Param): Record<string, unknown> {
  switch (p.kind) {
    case 'group':
      return {
        type: 'object',
        ...(p.doc ? { description: p.doc } : {}),
        additionalProperties: false,
        properties: Object.fromEntries(Object.entries(p.children).map(([k, c]) => [k, jsonSchemaOf(c)])),
      };
    case 'int':
      return {
        type: 'integer',
        description: p.doc,
        ...(p.min !== undefined ? { minimum: p.min } : {}),
        ...(p.max !== undefined ? { maximum: p.max } : {}),
      };
    case 'str':
      return {
        type: 'string',
        description: p.doc,
        ...(p.enum ? { enum: [...p.enum] } : {}),
        ...(p.pattern ? { pattern: p.pattern } : {}),
        ...(p.forbid ? { not: { enum: [...p.forbid] } } : {}),
      };
    case 'bool':
      return { type: 'boolean', description: p.doc };
    case 'block':
      return { description: p.doc, ...p.schema };
  }
}
