import { Construct } from 'constructs';
import type { Knobs } from './knobs.ts';
import { HTTP_PORT } from './parley-app.ts';
import type { Json } from './pod.ts';

export interface IngressProps {
  /** Service of the auth service. */
  readonly authService: string;
  /** Service of the message api (REST and the WebSocket gateway). */
  readonly apiService: string;
  /** Service of the message media role (/v1/media). */
  readonly mediaService: string;
}

/** Paths the message media role serves (uploads and downloads of attachments). */
export const MEDIA_PATHS = ['/v1/media'] as const;

/** Paths the auth service serves; everything else under /v1 goes to the message api. */
export const AUTH_PATHS = ['/v1/auth', '/v1/users', '/v1/admin', '/.well-known'] as const;

/**
 * One ingress-nginx Ingress for REST and /v1/ws: long proxy timeouts so sockets stay open, HTTP/1.1
 * for the upgrade, a body size limit, and TLS when enabled. A second one for the same host sends
 * /v1/media to the media role with the larger body size uploads need (`message.media.proxyBodySize`);
 * ingress-nginx merges both. Notifications and push subscriptions are the api's (under `/`).
 */
export class Ingress extends Construct {
  constructor(scope: Construct, id: string, k: Knobs, props: IngressProps) {
    super(scope, id);
    const backend = (name: string) => ({ service: { name, port: { number: HTTP_PORT } } });
    const host = k.v<string>('ingress.host');
    const prefix = (path: string, service: string) => ({
      path,
      pathType: 'Prefix',
      backend: backend(service),
    });
    const rules = (paths: Json[]) => [{ host, http: { paths } }];
    const api = props.apiService;
    const main = {
      name: k.fullname,
      annotations: k.block('ingress.annotations'),
      // /v1/users/me/stars and /v1/users/me/blocks belong to the message service: longest prefix wins.
      rules: rules([
        ...AUTH_PATHS.map((path) => prefix(path, props.authService)),
        prefix('/v1/users/me/stars', api),
        prefix('/v1/users/me/blocks', api),
        prefix('/', api),
      ]),
    };
    const bodySize = 'nginx.ingress.kubernetes.io/proxy-body-size';
    const media = {
      name: k.name('media'),
      annotations: k.expr(
        { ...k.values.ingress.annotations, [bodySize]: k.values.message.media.proxyBodySize },
        `(merge (dict "${bodySize}" $.Values.message.media.proxyBodySize) (deepCopy $.Values.ingress.annotations))`,
        'block',
      ),
      rules: rules(MEDIA_PATHS.map((path) => prefix(path, props.mediaService))),
    };
    k.when('ingress.enabled', () => {
      for (const tls of [true, false]) {
        k.under(
          tls ? '$.Values.ingress.tls.enabled' : 'not $.Values.ingress.tls.enabled',
          k.values.ingress.tls.enabled === tls,
          () => {
            for (const [suffix, ing] of [
              ['', main],
              ['-media', media],
            ] as const) {
              k.emit(this, `${tls ? 'tls' : 'plain'}${suffix}`, {
                apiVersion: 'networking.k8s.io/v1',
                kind: 'Ingress',
                metadata: { ...k.meta(ing.name, 'ingress'), annotations: ing.annotations },
                spec: {
                  ingressClassName: k.v<string>('ingress.className'),
                  ...(tls
                    ? { tls: [{ hosts: [host], secretName: k.v<string>('ingress.tls.secretName') }] }
                    : {}),
                  rules: ing.rules,
                },
              });
            }
          },
        );
      }
    });
  }
}
