/**
 * How constructs read the chart's values. In `plain` mode a knob is the value itself, so the app
 * synthesizes ordinary manifests. In `helm` mode a knob is a token (`__H12__`) that the chart
 * generator (scripts/chart) turns into the matching Helm expression, and structural choices
 * (optional objects, Kafka modes) become `{{- if }}` around whole documents. Constructs never do
 * arithmetic on a knob: what Helm must compute is written twice, once in TypeScript and once as
 * a Helm expression (`expr`), and the chart check proves both agree for every profile.
 */
import { ApiObject, JsonPatch } from 'cdk8s';
import type { Construct } from 'constructs';
import { paramAt, valueAt } from './values/spec.ts';
import { parleyValuesSpec, type ParleyValues } from './values/parley.ts';

export type TokenKind = 'int' | 'str' | 'bool' | 'block' | 'optional';
export interface TokenDef {
  readonly expr: string;
  readonly kind: TokenKind;
}

/** Top-level field carrying a document's Helm condition from synthesis to the chart generator. */
export const HELM_IF = 'x-helm-if';
export const TOKEN = /__H(\d+)__/g;
const CHART_NAME = 'parley';

export interface KnobsProps {
  /** @default 'plain' */
  readonly mode?: 'plain' | 'helm';
  /** Values merged over the defaults (plain mode). */
  readonly values: ParleyValues;
  /** Release name, as `helm install <name>` would get. @default 'parley' */
  readonly releaseName?: string;
  /** Namespace of every namespaced object. @default 'parley' */
  readonly namespace?: string;
}

/** Kubernetes manifest as plain JSON. */
export type Manifest = { apiVersion: string; kind: string; metadata: Record<string, unknown> } & Record<
  string,
  unknown
>;

export class Knobs {
  readonly mode: 'plain' | 'helm';
  readonly values: ParleyValues;
  readonly tokens: TokenDef[] = [];
  /** Named Helm templates the expressions use, for _helpers.tpl. */
  readonly helpers = new Map<string, string>();
  /** Release-name-aware base name of every object (Bitnami's common.names.fullname). */
  readonly fullname: string;
  readonly releaseName: string;
  readonly namespace: string;
  private readonly conditions: string[] = [];
  private variant = 0;

  constructor(props: KnobsProps) {
    this.mode = props.mode ?? 'plain';
    this.values = props.values;
    const release = props.releaseName ?? 'parley';
    if (!/^[a-z0-9]([-a-z0-9]{0,51}[a-z0-9])?$/.test(release)) {
      throw new Error(`'releaseName' (${release}) must be a DNS label of at most 53 characters`);
    }
    const override = this.values.fullnameOverride;
    const plainFullname = override || (release.includes(CHART_NAME) ? release : `${release}-${CHART_NAME}`);
    this.fullname = this.expr(plainFullname, 'include "parley.fullname" $', 'str');
    this.releaseName = this.expr(release, '$.Release.Name', 'str');
    this.namespace = this.expr(props.namespace ?? 'parley', '$.Release.Namespace', 'str');
  }

  get helm(): boolean {
    return this.mode === 'helm';
  }

  /** A scalar value (int, str or bool) at a dotted path of the values. */
  v<T extends string | number | boolean>(path: string): T {
    const p = paramAt(parleyValuesSpec, path);
    if (p.kind === 'group' || p.kind === 'block') throw new Error(`'${path}' is not a scalar value`);
    return this.expr(valueAt(this.values, path) as T, `$.Values.${path}`, p.kind);
  }

  /** A scalar value rendered as a string (env values, args, ConfigMap data). */
  text(path: string): string {
    const p = paramAt(parleyValuesSpec, path);
    const helm = p.kind === 'int' ? `$.Values.${path} | int64 | toString` : `$.Values.${path} | toString`;
    return this.expr(String(valueAt(this.values, path)), helm, 'str');
  }

  /** Registers a named Helm template (`define`) that a helm expression of this construct uses. */
  define(name: string, body: string): void {
    this.helpers.set(name, body.trim());
  }

  /** A free-form value (map or list), rendered with toYaml. */
  block<T>(path: string): T {
    const p = paramAt(parleyValuesSpec, path);
    if (p.kind !== 'block') throw new Error(`'${path}' is not a block value`);
    return this.expr(valueAt(this.values, path) as T, `$.Values.${path}`, 'block');
  }

  /** A string that is omitted (with its key) when empty. */
  optional(path: string): string | undefined {
    const value = valueAt(this.values, path) as string;
    if (!this.helm) return value === '' ? undefined : value;
    return this.token(`$.Values.${path}`, 'optional');
  }

  /** A value computed from other values: `plain` here, `helm` (a Helm pipeline) in the chart. */
  expr<T>(plain: T, helm: string, kind: TokenKind): T {
    return (this.helm ? this.token(helm, kind) : plain) as T;
  }

  /** `<fullname>-<suffix>`. */
  name(suffix: string): string {
    return `${this.fullname}-${suffix}`;
  }

  /** The name of a user-supplied Secret at `path`, or the chart's own (`<fullname>-<suffix>`). */
  secretName(path: string, suffix: string): string {
    const existing = valueAt(this.values, path) as string;
    const chartOwn = `$.Values.${path} | default (printf "%s-${suffix}" (include "parley.fullname" $))`;
    return this.expr(existing || `${this.fullname}-${suffix}`, chartOwn, 'str');
  }

  /** Runs `build` when the boolean value at `path` holds (plain) or under `{{- if }}` (helm). */
  when(path: string, build: () => void): void {
    this.under(`$.Values.${path}`, Boolean(valueAt(this.values, path)), build);
  }

  /** Runs `build` when the value at `path` is empty/false. */
  unless(path: string, build: () => void): void {
    this.under(`not $.Values.${path}`, !valueAt(this.values, path), build);
  }

  /** Runs `build` once per option in helm mode (each under `eq`), once for the value in plain mode. */
  choose<T extends string>(path: string, options: readonly T[], build: (option: T) => void): void {
    for (const option of options) {
      this.under(`eq $.Values.${path} ${JSON.stringify(option)}`, valueAt(this.values, path) === option, () =>
        build(option),
      );
    }
  }

  /** Runs `build` under a condition given both ways. */
  under(helmCondition: string, holds: boolean, build: () => void): void {
    if (!this.helm) {
      if (holds) build();
      return;
    }
    this.conditions.push(helmCondition);
    try {
      build();
    } finally {
      this.conditions.pop();
    }
  }

  /** Creates one Kubernetes object, tagged with the conditions it was created under. */
  emit(scope: Construct, id: string, manifest: Manifest): ApiObject {
    const { apiVersion, kind, metadata, ...rest } = manifest;
    const meta = { ...metadata };
    const extra: Record<string, unknown> = {};
    if (this.helm && this.conditions.length > 0) {
      const cond =
        this.conditions.length === 1
          ? this.conditions[0]!
          : `and ${this.conditions.map((c) => `(${c})`).join(' ')}`;
      extra[HELM_IF] = cond;
      id = `${id}-v${++this.variant}`;
    }
    // cdk8s copies metadata maps key by key: a map that is one token is patched in afterwards.
    const tokenMaps = Object.entries(meta).filter(
      ([key, v]) => typeof v === 'string' && /^(labels|annotations)$/.test(key),
    );
    for (const [key] of tokenMaps) delete meta[key];
    const obj = new ApiObject(scope, id, { apiVersion, kind, metadata: meta as never, ...rest, ...extra });
    for (const [key, v] of tokenMaps) obj.addJsonPatch(JsonPatch.add(`/metadata/${key}`, v));
    return obj;
  }

  /** The `app.kubernetes.io/*` labels every object of a component carries. */
  labels(component: string): Record<string, string> {
    return {
      ...this.selector(component),
      'app.kubernetes.io/part-of': CHART_NAME,
      'app.kubernetes.io/managed-by': this.expr('cdk8s', '$.Release.Service', 'str'),
    };
  }

  /** The labels that select a component's pods. */
  selector(component: string): Record<string, string> {
    return {
      'app.kubernetes.io/name': CHART_NAME,
      'app.kubernetes.io/instance': this.releaseName,
      'app.kubernetes.io/component': component,
    };
  }

  /** metadata for a namespaced object of a component. */
  meta(
    name: string,
    component: string,
    extra: { annotations?: Record<string, string> } = {},
  ): Record<string, unknown> {
    return { name, namespace: this.namespace, labels: this.labels(component), ...extra };
  }

  private token(expr: string, kind: TokenKind): string {
    this.tokens.push({ expr, kind });
    return `__H${this.tokens.length - 1}__`;
  }
}
