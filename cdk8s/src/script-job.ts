import { Construct } from 'constructs';
import type { Knobs } from './knobs.ts';
import { containerSecurity, podSecurity, smallResources, tmpMount, tmpVolume, type Json } from './pod.ts';

export interface ScriptJobProps {
  /** Component name (label and name prefix). */
  readonly component: string;
  /** `image` and `imagePullPolicy` of the container. */
  readonly image: Json;
  /** uid the pod runs as (the image's user). */
  readonly uid: number;
  /** Files mounted under /scripts: name → text. */
  readonly scripts: Record<string, string>;
  /** The container's command. */
  readonly command: readonly string[];
  /** @default [] */
  readonly env?: readonly Json[];
  /** RBAC rules for a Role bound to the Job's ServiceAccount; none = no API access. @default [] */
  readonly rules?: readonly Json[];
  /** @default 10 */
  readonly backoffLimit?: number;
}

/**
 * A Job that runs an idempotent script (cluster forming, replica set init, Secret generation).
 * Its name carries the release revision, so every install and upgrade runs it once more and
 * never collides with the immutable pod template of an earlier Job.
 */
export class ScriptJob extends Construct {
  readonly name: string;

  constructor(scope: Construct, id: string, k: Knobs, props: ScriptJobProps) {
    super(scope, id);
    const backoffLimit = props.backoffLimit ?? 10;
    if (backoffLimit < 0) throw new Error(`'backoffLimit' (${backoffLimit}) must be 0 or more`);
    if (Object.keys(props.scripts).length === 0)
      throw new Error(`'scripts' of ${props.component} must not be empty`);
    const { component } = props;
    const base = k.name(component);
    this.name = `${base}-r${k.expr('1', '$.Release.Revision | toString', 'str')}`;
    const rules = props.rules ?? [];
    const apiAccess = rules.length > 0;

    k.emit(this, 'sa', {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: k.meta(base, component),
      automountServiceAccountToken: apiAccess,
    });
    if (apiAccess) {
      k.emit(this, 'role', {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: k.meta(base, component),
        rules,
      });
      k.emit(this, 'binding', {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: k.meta(base, component),
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: base },
        subjects: [{ kind: 'ServiceAccount', name: base, namespace: k.namespace }],
      });
    }
    k.emit(this, 'scripts', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: k.meta(`${base}-scripts`, component),
      data: props.scripts,
    });
    k.emit(this, 'job', {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: k.meta(this.name, component),
      spec: {
        backoffLimit,
        template: {
          metadata: { labels: k.labels(component) },
          spec: {
            serviceAccountName: base,
            automountServiceAccountToken: apiAccess,
            restartPolicy: 'OnFailure',
            securityContext: podSecurity(props.uid),
            imagePullSecrets: k.block('imagePullSecrets'),
            containers: [
              {
                name: component,
                ...props.image,
                command: props.command,
                env: props.env ?? [],
                resources: smallResources(),
                securityContext: containerSecurity(true),
                volumeMounts: [{ name: 'scripts', mountPath: '/scripts', readOnly: true }, tmpMount()],
              },
            ],
            volumes: [
              { name: 'scripts', configMap: { name: `${base}-scripts`, defaultMode: 0o555 } },
              tmpVolume(),
            ],
          },
        },
      },
    });
  }
}
