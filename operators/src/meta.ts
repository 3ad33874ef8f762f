/** Group, version and Kubernetes object shapes shared by both custom resources. */
export const GROUP = 'parley.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = 'parley.dev/v1alpha1';

/** `parley.dev/managed: "false"` on a resource makes the operator leave the world alone for it. */
export const MANAGED_ANNOTATION = 'parley.dev/managed';

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
}

export type ConditionStatus = 'True' | 'False' | 'Unknown';

/** Kubernetes metav1.Condition. */
export interface Condition {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export function isManaged(meta: ObjectMeta): boolean {
  return meta.annotations?.[MANAGED_ANNOTATION] !== 'false';
}

/**
 * Replaces the condition of the same type, keeping its lastTransitionTime when the status did not
 * change (metav1.Condition semantics: the time records transitions, not writes).
 */
export function upsertCondition(previous: readonly Condition[] | undefined, next: Condition): Condition[] {
  const old = previous?.find((c) => c.type === next.type);
  const merged =
    old && old.status === next.status ? { ...next, lastTransitionTime: old.lastTransitionTime } : next;
  return [...(previous ?? []).filter((c) => c.type !== next.type), merged];
}

/** Renders a user-supplied value for an error message: strings quoted, the rest as JSON. */
export function show(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'number') return String(value);
  return JSON.stringify(value) ?? String(value);
}

/** A parsed spec with defaults applied, or every problem found, each naming its field. */
export type Validated<T> = { ok: true; value: T } | { ok: false; errors: string[] };

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
