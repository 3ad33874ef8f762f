/**
 * Offline JSON schemas for `kubeconform -strict`, without the internet: Kubernetes' own OpenAPI
 * (api/openapi-spec/swagger.json of the k8s.io/kubernetes Go module, from the Go module proxy),
 * the Prometheus Operator CRDs (from its Go module) and Parley's CRDs (operators/src/crds.ts).
 * Each schema is standalone (references inlined) and strict (unknown fields fail). Cached; prints
 * the schema directory.
 *
 *   node --import tsx scripts/chart/schemas.ts
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { crds } from '@parley/operators/crds';
import { parse } from 'yaml';

type Schema = Record<string, unknown>;

const KUBERNETES = 'v1.27.16';
const PROMETHEUS_OPERATOR = 'v0.85.0';
const PROXY = process.env.GOPROXY?.split(',').find((p) => p.startsWith('http')) ?? 'https://proxy.golang.org';
const CACHE = join(process.env.PARLEY_CACHE_DIR ?? join(homedir(), '.cache', 'parley'), 'kubeconform');
const FORMAT_VERSION = '5'; // kubeconform compiles schemas as JSON Schema draft 4

/** One file out of a Go module zip, downloaded once into the cache. */
async function moduleFile(module: string, version: string, path: string): Promise<string> {
  const zip = join(CACHE, `${module.replaceAll('/', '_')}@${version}.zip`);
  if (!existsSync(zip)) {
    const url = `${PROXY}/${module}/@v/${version}.zip`;
    const res = await fetch(url);
    if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
    writeFileSync(`${zip}.tmp`, Buffer.from(await res.arrayBuffer()));
    renameSync(`${zip}.tmp`, zip);
  }
  return execFileSync('unzip', ['-p', zip, `${module}@${version}/${path}`], {
    maxBuffer: 64 << 20,
    encoding: 'utf8',
  });
}

/** Inlines `$ref`s, makes objects strict, and maps Kubernetes' special formats. */
function expand(node: unknown, definitions: Record<string, Schema>, stack: string[] = []): unknown {
  if (Array.isArray(node)) return node.map((n) => expand(n, definitions, stack));
  if (node === null || typeof node !== 'object') return node;
  const s = node as Schema;
  if (typeof s.$ref === 'string') {
    const name = s.$ref.replace('#/definitions/', '');
    if (name === 'io.k8s.apimachinery.pkg.api.resource.Quantity') return { type: ['string', 'number'] };
    if (name === 'io.k8s.apimachinery.pkg.util.intstr.IntOrString') return { type: ['string', 'integer'] };
    if (stack.includes(name)) return {}; // recursive (JSONSchemaProps): accept anything below
    return expand(definitions[name], definitions, [...stack, name]);
  }
  const out: Schema = {};
  for (const [key, value] of Object.entries(s)) {
    if (key.startsWith('x-kubernetes-') || key === 'description' || key === 'nullable') continue;
    if (key === 'format' && value === 'int-or-string') {
      out.type = ['string', 'integer'];
      continue;
    }
    out[key] =
      key === 'properties' || key === 'patternProperties'
        ? mapValues(value as Schema, definitions, stack)
        : expand(value, definitions, stack);
  }
  if (s['x-kubernetes-int-or-string'] === true) {
    out.type = ['string', 'integer'];
  }
  const preserve = s['x-kubernetes-preserve-unknown-fields'] === true;
  if (out.properties && out.additionalProperties === undefined && !preserve) out.additionalProperties = false;
  return out;
}

function mapValues(props: Schema, definitions: Record<string, Schema>, stack: string[]): Schema {
  return Object.fromEntries(Object.entries(props).map(([k, v]) => [k, expand(v, definitions, stack)]));
}

/** kubeconform's file name for a kind: `{{.ResourceKind}}-{{.Group}}-{{.ResourceAPIVersion}}.json`. */
const fileName = (kind: string, group: string, version: string) =>
  `${kind.toLowerCase()}-${group || version}-${version}.json`;

function withTypeMeta(schema: Schema, group: string, version: string, kind: string): Schema {
  const apiVersion = group ? `${group}/${version}` : version;
  const props = { ...(schema.properties as Schema) };
  props.apiVersion = { type: 'string', enum: [apiVersion] };
  props.kind = { type: 'string', enum: [kind] };
  props.metadata =
    props.metadata && Object.keys(props.metadata as Schema).length > 1 ? props.metadata : { type: 'object' };
  return { ...schema, properties: props };
}

/** Builds the schema directory if needed and returns it. */
export async function schemaDir(): Promise<string> {
  const dir = join(CACHE, `${KUBERNETES}-${PROMETHEUS_OPERATOR}-f${FORMAT_VERSION}`);
  const crdDir = join(dir, 'parley');
  mkdirSync(CACHE, { recursive: true });
  if (!existsSync(join(dir, '.complete'))) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const swagger = JSON.parse(
      await moduleFile('k8s.io/kubernetes', KUBERNETES, 'api/openapi-spec/swagger.json'),
    ) as {
      definitions: Record<
        string,
        Schema & { 'x-kubernetes-group-version-kind'?: { group: string; version: string; kind: string }[] }
      >;
    };
    for (const [name, def] of Object.entries(swagger.definitions)) {
      const gvks = def['x-kubernetes-group-version-kind'];
      if (!gvks || !def.properties || name.endsWith('List') || name.includes('.meta.v1.')) continue;
      const schema = expand({ $ref: `#/definitions/${name}` }, swagger.definitions) as Schema;
      for (const { group, version, kind } of gvks) {
        writeFileSync(
          join(dir, fileName(kind, group, version)),
          JSON.stringify(withTypeMeta(schema, group, version, kind)),
        );
      }
    }
    for (const file of [
      'monitoring.coreos.com_servicemonitors.yaml',
      'monitoring.coreos.com_prometheusrules.yaml',
    ]) {
      const crd = parse(
        await moduleFile(
          'github.com/prometheus-operator/prometheus-operator',
          PROMETHEUS_OPERATOR,
          `example/prometheus-operator-crd/${file}`,
        ),
      ) as Schema;
      writeCrd(dir, crd);
    }
    writeFileSync(join(dir, '.complete'), new Date().toISOString());
  }
  // Parley's CRDs change with the code: always rewritten.
  rmSync(crdDir, { recursive: true, force: true });
  mkdirSync(crdDir, { recursive: true });
  for (const crd of crds) writeCrd(crdDir, crd as unknown as Schema);
  return dir;
}

function writeCrd(dir: string, crd: Schema): void {
  const spec = crd.spec as {
    group: string;
    names: { kind: string };
    versions: { name: string; schema: { openAPIV3Schema: Schema } }[];
  };
  for (const v of spec.versions) {
    const schema = expand(v.schema.openAPIV3Schema, {}) as Schema;
    writeFileSync(
      join(dir, fileName(spec.names.kind, spec.group, v.name)),
      JSON.stringify(withTypeMeta(schema, spec.group, v.name, spec.names.kind)),
    );
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await schemaDir());
}
