import { GROUP, VERSION } from '../meta.ts';
import { CONSUMER_AUTOSCALER_PLURAL, TOPIC_PLURAL } from '../crds.ts';
import type { ResourceKind } from './port.ts';

export const TOPICS: ResourceKind = { group: GROUP, version: VERSION, plural: TOPIC_PLURAL };
export const CONSUMER_AUTOSCALERS: ResourceKind = {
  group: GROUP,
  version: VERSION,
  plural: CONSUMER_AUTOSCALER_PLURAL,
};
