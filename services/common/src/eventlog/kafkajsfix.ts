import { createRequire } from 'node:module';

/**
 * kafkajs 2.2.4 (its last release) re-arms a timer on every connection after every request, with
 * a negative delay when nothing waits: each broker connection wakes the event loop about a
 * thousand times a second, idle or not (tulios/kafkajs#1556, #1704). Here that cost each Parley
 * process with a Kafka client 8-10% of a core doing nothing (#19: `bench:cost --stack real
 * --rate 1`, kafkajs's requestQueue and Node's timers on top of the profile). This is the fix
 * proposed upstream (tulios/kafkajs#1667), applied to the loaded class: a check is scheduled
 * only while requests wait, at the end of a throttle or after CHECK_PENDING_MS; requests that wait
 * only for an in-flight one to finish are checked when it does (fulfillRequest), as before.
 */
const CHECK_PENDING_MS = 10;

interface RequestQueueLike {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
}

const require = createRequire(import.meta.url);
/** kafkajs's own RequestQueue class (the module instance its connections use). */
export const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as {
  prototype: RequestQueueLike;
};

RequestQueue.prototype.scheduleCheckPendingRequests = function (this: RequestQueueLike) {
  if (this.throttleCheckTimeoutId || this.pending.length === 0) return;
  const untilUnthrottled = this.throttledUntil - Date.now();
  this.throttleCheckTimeoutId = setTimeout(
    () => {
      this.throttleCheckTimeoutId = null;
      this.checkPendingRequests();
    },
    untilUnthrottled > 0 ? untilUnthrottled : CHECK_PENDING_MS,
  );
};
