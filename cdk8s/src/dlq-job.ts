import { Construct } from 'constructs';
import type { Knobs } from './knobs.ts';
import { containerSecurity, imageOf, podSecurity, smallResources, tmpMount, tmpVolume } from './pod.ts';
import { NODE_UID } from './secrets.ts';

export interface DlqReplayJobProps {
  /** Kafka bootstrap servers. */
  readonly kafka: string;
}

/**
 * `npm run dlq -- <action>` (scripts/dlq.ts, shipped in the message image) as an opt-in Job
 * (`message.dlqReplay.enabled`): lists, re-drives or drops what is pending in chat.messages.dlq.
 * It needs Kafka only: no Secret, no ServiceAccount token, and a NetworkPolicy to the brokers alone.
 * Its name carries the release revision, so each upgrade with it enabled runs it once more; a
 * replay is idempotent (progress is the committed offsets of `<worker group>.dlq`).
 */
export class DlqReplayJob extends Construct {
  constructor(scope: Construct, id: string, k: Knobs, props: DlqReplayJobProps) {
    super(scope, id);
    const component = 'dlq-replay';
    const base = k.name(component);
    k.when('message.dlqReplay.enabled', () => {
      k.emit(this, 'sa', {
        apiVersion: 'v1',
        kind: 'ServiceAccount',
        metadata: k.meta(base, component),
        automountServiceAccountToken: false,
      });
      k.emit(this, 'job', {
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: k.meta(`${base}-r${k.expr('1', '$.Release.Revision | toString', 'str')}`, component),
        spec: {
          // A failed replay is looked at, not retried blindly.
          backoffLimit: 1,
          template: {
            metadata: { labels: k.labels(component) },
            spec: {
              serviceAccountName: base,
              automountServiceAccountToken: false,
              restartPolicy: 'Never',
              securityContext: podSecurity(NODE_UID),
              imagePullSecrets: k.block('imagePullSecrets'),
              containers: [
                {
                  name: component,
                  ...imageOf(k, 'message.image'),
                  command: [
                    'node',
                    '--import',
                    'tsx',
                    'scripts/dlq.ts',
                    k.v<string>('message.dlqReplay.action'),
                  ],
                  env: [
                    { name: 'KAFKA_BROKERS', value: props.kafka },
                    { name: 'WORKER_GROUP_ID', value: k.v<string>('message.worker.groupId') },
                  ],
                  resources: smallResources(),
                  securityContext: containerSecurity(true),
                  volumeMounts: [tmpMount()],
                },
              ],
              volumes: [tmpVolume()],
            },
          },
        },
      });
    });
  }
}
