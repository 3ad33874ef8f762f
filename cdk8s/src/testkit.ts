/** What the cdk8s tests read from a synthesis: the documents, and a container's environment. */
import { parseAllDocuments } from 'yaml';
import { synthPlain } from './main.ts';
import type { ParleyValues } from './values/parley.ts';

export type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The plain manifests for these values, as objects. */
export function synthDocs(values: ParleyValues): Json[] {
  return parseAllDocuments(synthPlain(values))
    .map((d) => d.toJS() as Json)
    .filter(Boolean);
}

/** A Secret key's value in tests: long enough for the services' minimum lengths (32). */
const secretStandIn = (key: string) => `secret${key.replace(/-/g, '')}`.padEnd(40, 'x');

/** The environment a container would see: values, Secret/field placeholders, $(VAR) expanded, envFrom ConfigMaps. */
export function environment(docs: Json[], deployment: string): Record<string, string> {
  const d = docs.find((x) => x.kind === 'Deployment' && x.metadata.name === deployment)!;
  const c = d.spec.template.spec.containers[0];
  const env: Record<string, string> = {};
  for (const from of c.envFrom ?? []) {
    Object.assign(
      env,
      docs.find((x) => x.kind === 'ConfigMap' && x.metadata.name === from.configMapRef.name)!.data,
    );
  }
  for (const e of c.env) {
    if (e.valueFrom?.secretKeyRef?.optional) continue; // absent Secret: the feature stays off
    const raw =
      e.value ?? (e.valueFrom?.secretKeyRef ? secretStandIn(e.valueFrom.secretKeyRef.key) : 'pod-0');
    env[e.name] = raw.replace(/\$\(([A-Z_]+)\)/g, (_: string, name: string) => env[name] ?? '');
  }
  return env;
}
