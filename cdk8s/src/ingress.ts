import { Construct } from 'constructs';
import type { Knobs } from './knobs.ts';
import { HTTP_PORT } from './parley-app.ts';

export interface IngressProps {
  /** Service of the auth service. */
  readonly authService: string;
  /** Service of the message api (REST and the WebSocket gateway). */
  readonly apiService: string;
}

/** Paths the auth service serves; everything else under /v1 goes to the message api. */
export const AUTH_PATHS = ['/v1/auth', '/v1/users', '/v1/admin', '/.well-known'] as const;

/**
 * One ingress-nginx Ingress for REST and /v1/ws: long proxy timeouts so sockets stay open, HTTP/1.1
 * for the upgrade, a body size limit, and TLS when enabled.
 */
export class Ingress extends Construct {
  constructor(scope: Construct, id: string, k: Knobs, props: IngressProps) {
    super(scope, id);
    const backend = (name: string) => ({ service: { name, port: { number: HTTP_PORT } } });
    const host = k.v<string>('ingress.host');
    const rules = [
      {
        host,
        http: {
          // /v1/users/me/stars and /v1/users/me/blocks belong to the message service: longest prefix wins.
          paths: [
            ...AUTH_PATHS.map((path) => ({ path, pathType: 'Prefix', backend: backend(props.authService) })),
            { path: '/v1/users/me/stars', pathType: 'Prefix', backend: backend(props.apiService) },
            { path: '/v1/users/me/blocks', pathType: 'Prefix', backend: backend(props.apiService) },
            { path: '/', pathType: 'Prefix', backend: backend(props.apiService) },
          ],
        },
      },
    ];
    k.when('ingress.enabled', () => {
      for (const tls of [true, false]) {
        k.under(
          tls ? '$.Values.ingress.tls.enabled' : 'not $.Values.ingress.tls.enabled',
          k.values.ingress.tls.enabled === tls,
          () => {
            k.emit(this, tls ? 'tls' : 'plain', {
              apiVersion: 'networking.k8s.io/v1',
              kind: 'Ingress',
              metadata: { ...k.meta(k.fullname, 'ingress'), annotations: k.block('ingress.annotations') },
              spec: {
                ingressClassName: k.v<string>('ingress.className'),
                ...(tls
                  ? { tls: [{ hosts: [host], secretName: k.v<string>('ingress.tls.secretName') }] }
                  : {}),
                rules,
              },
            });
          },
        );
      }
    });
  }
}
