/** The "report" step both controllers share: status through the status subresource, and Events. */
import type { Logger } from '@parley/common';
import type { KubeEvent, KubeObject, KubePort, ResourceKind } from '../kube/port.ts';
import type { Informer } from './informer.ts';

export class Reporter<T extends KubeObject> {
  constructor(
    private readonly kube: KubePort,
    private readonly kind: ResourceKind,
    private readonly kindName: string,
    private readonly informer: Informer<T>,
    private readonly component: string,
    private readonly log: Logger,
  ) {}

  /** Merge-patches status; the informer keeps the written copy so the next reconcile reads it. */
  async status(resource: T, status: object): Promise<void> {
    const { namespace = '', name } = resource.metadata;
    this.informer.remember(await this.kube.patchStatus<T>(this.kind, namespace, name, status));
  }

  /** Records an Event; failing to record one never fails the reconcile. */
  async event(resource: T, e: Pick<KubeEvent, 'type' | 'reason' | 'message'>): Promise<void> {
    const { namespace = '', name, uid } = resource.metadata;
    await this.kube
      .createEvent({
        involved: { kind: this.kindName, apiVersion: resource.apiVersion ?? '', namespace, name, uid },
        ...e,
        source: this.component,
      })
      .catch((err: unknown) => this.log.warn({ err }, 'could not record an Event'));
  }
}
