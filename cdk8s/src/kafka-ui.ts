import { Construct } from 'constructs';
import type { Knobs } from './knobs.ts';
import { containerSecurity, httpProbe, imageOf, tmpMount, tmpVolume } from './pod.ts';
import { Workload } from './workload.ts';

const UI_PORT = 8080;

export interface KafkaUiProps {
  readonly kafka: string;
}

/** Optional Kafka UI (kafka-ui on 8080), reached with `kubectl port-forward`. */
export class KafkaUi extends Construct {
  constructor(scope: Construct, id: string, k: Knobs, props: KafkaUiProps) {
    super(scope, id);
    k.when('kafkaUi.enabled', () => {
      new Workload(this, 'ui', k, {
        component: 'kafka-ui',
        replicas: 1,
        uid: 100,
        maxUnavailable: 0,
        containers: [
          {
            name: 'kafka-ui',
            ...imageOf(k, 'kafkaUi.image'),
            env: [
              { name: 'KAFKA_CLUSTERS_0_NAME', value: k.releaseName },
              { name: 'KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS', value: props.kafka },
              { name: 'JAVA_OPTS', value: '-Xmx256m -Djava.io.tmpdir=/tmp' },
            ],
            ports: [{ name: 'http', containerPort: UI_PORT }],
            resources: { requests: { cpu: '50m', memory: '320Mi' }, limits: { memory: '512Mi' } },
            securityContext: containerSecurity(true),
            startupProbe: httpProbe('/actuator/health', 'http', { periodSeconds: 5, failureThreshold: 36 }),
            readinessProbe: httpProbe('/actuator/health', 'http'),
            livenessProbe: httpProbe('/actuator/health', 'http', { failureThreshold: 6 }),
            volumeMounts: [tmpMount()],
          },
        ],
        volumes: [tmpVolume()],
        ports: [{ name: 'http', port: UI_PORT }],
      });
    });
  }
}
