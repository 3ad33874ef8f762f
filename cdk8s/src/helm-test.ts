import { Construct } from 'constructs';
import type { Knobs } from './knobs.ts';
import { containerSecurity, imageOf, podSecurity, smallResources, tmpMount, tmpVolume } from './pod.ts';
import { HTTP_PORT } from './parley-app.ts';
import { script } from './scripts.ts';
import { NODE_UID } from './secrets.ts';

export interface HelmTestProps {
  readonly authService: string;
  readonly apiService: string;
}

/**
 * The `helm test` Job: two users register and exchange a message through the Services. Helm-only
 * (a test hook), so the plain manifests leave it out.
 */
export class HelmTest extends Construct {
  constructor(scope: Construct, id: string, k: Knobs, props: HelmTestProps) {
    super(scope, id);
    if (!k.helm) return;
    const name = k.name('test');
    const hook = { 'helm.sh/hook': 'test', 'helm.sh/hook-delete-policy': 'before-hook-creation' };
    k.emit(this, 'script', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: k.meta(name, 'test', { annotations: { ...hook, 'helm.sh/hook-weight': '-1' } }),
      data: { 'helm-test.mjs': script('helm-test.mjs') },
    });
    k.emit(this, 'job', {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: k.meta(name, 'test', { annotations: hook }),
      spec: {
        backoffLimit: 0,
        template: {
          metadata: { labels: k.labels('test') },
          spec: {
            restartPolicy: 'Never',
            automountServiceAccountToken: false,
            securityContext: podSecurity(NODE_UID),
            containers: [
              {
                name: 'test',
                ...imageOf(k, 'message.image'),
                command: ['node', '/scripts/helm-test.mjs'],
                env: [
                  { name: 'AUTH_URL', value: `http://${props.authService}:${HTTP_PORT}` },
                  { name: 'API_URL', value: `http://${props.apiService}:${HTTP_PORT}` },
                  { name: 'BASE_URL', value: k.v<string>('tests.baseUrl') },
                ],
                resources: smallResources(),
                securityContext: containerSecurity(true),
                volumeMounts: [{ name: 'script', mountPath: '/scripts', readOnly: true }, tmpMount()],
              },
            ],
            volumes: [{ name: 'script', configMap: { name } }, tmpVolume()],
          },
        },
      },
    });
  }
}
