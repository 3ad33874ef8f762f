import { HotCounter, HotHistogram } from '@parley/common';
import client from 'prom-client';
import { deliveryLatency } from '../domain/latency.ts';
import { clientFrameTypes, CloseCodes, serverFrameTypes } from './protocol.ts';

/** How a handled frame failed: answered with an error frame, or an unexpected failure. */
export type FrameFailure = 'rejected' | 'internal';

/** The gateway's series, registered at zero so dashboards have no gaps. No user or conversation labels. */
export class GatewayMetrics {
  readonly connections: client.Gauge;
  readonly opened: client.Counter;
  readonly closed: client.Counter<'code'>;
  readonly received: client.Counter<'type'>;
  readonly sent: client.Counter<'type'>;
  readonly bufferDrops: client.Counter;
  readonly authFailures: client.Counter<'reason'>;
  readonly deliveryLatency: client.Histogram<'stage'>;
  readonly resumedMessages: client.Counter;
  readonly frameSeconds: client.Histogram<'type'>;
  readonly frameErrors: client.Counter<'type' | 'kind'>;
  readonly typing: client.Counter<'state' | 'outcome'>;
  readonly presenceChanges: client.Counter<'status'>;
  /** The series the gateway adds to once or more per message, through cells (hotmetrics.ts). */
  readonly hot: {
    received: HotCounter<'type'>;
    sent: HotCounter<'type'>;
    frameSeconds: HotHistogram<'type'>;
    deliveryLatency: HotHistogram<'stage'>;
  };

  constructor(registry: client.Registry) {
    const registers = [registry];
    this.connections = new client.Gauge({
      name: 'parley_ws_connections',
      help: 'Open WebSocket connections on this gateway (authenticated or not).',
      registers,
    });
    this.opened = new client.Counter({
      name: 'parley_ws_connections_opened_total',
      help: 'WebSocket connections accepted.',
      registers,
    });
    this.closed = new client.Counter({
      name: 'parley_ws_connections_closed_total',
      help: 'WebSocket connections closed, by close code (1006: dropped without a close frame).',
      labelNames: ['code'],
      registers,
    });
    this.received = new client.Counter({
      name: 'parley_ws_frames_received_total',
      help: 'Client frames received, by type (`invalid` for frames that did not parse).',
      labelNames: ['type'],
      registers,
    });
    this.sent = new client.Counter({
      name: 'parley_ws_frames_sent_total',
      help: 'Frames written to sockets, by type.',
      labelNames: ['type'],
      registers,
    });
    this.bufferDrops = new client.Counter({
      name: 'parley_ws_send_buffer_drops_total',
      help: 'Sockets closed as slow consumers because their send buffer passed the limit.',
      registers,
    });
    this.authFailures = new client.Counter({
      name: 'parley_ws_auth_failures_total',
      help: 'Failed socket authentications, by reason.',
      labelNames: ['reason'],
      registers,
    });
    this.deliveryLatency = deliveryLatency(registry, 'delivered');
    this.resumedMessages = new client.Counter({
      name: 'parley_ws_resumed_messages_total',
      help: 'Messages replayed to sockets by resume.',
      registers,
    });
    this.frameSeconds = new client.Histogram({
      name: 'parley_ws_frame_duration_seconds',
      help: 'Time to handle a client frame after its turn in the socket’s queue came, by type (auth, send, typing, …).',
      labelNames: ['type'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.frameErrors = new client.Counter({
      name: 'parley_ws_frame_errors_total',
      help: 'Client frames that failed, by type and kind: `rejected` (answered with an error frame: not a member, invalid cursor, …) or `internal` (unexpected failure).',
      labelNames: ['type', 'kind'],
      registers,
    });
    this.typing = new client.Counter({
      name: 'parley_ws_typing_events_total',
      help: 'Typing notices from sockets, by state and outcome (`published` to the conversation, or `throttled`).',
      labelNames: ['state', 'outcome'],
      registers,
    });
    this.presenceChanges = new client.Counter({
      name: 'parley_presence_changes_total',
      help: 'Users whose aggregate presence changed through this gateway, by the new status.',
      labelNames: ['status'],
      registers,
    });
    for (const t of handledFrameTypes) {
      this.frameSeconds.zero({ type: t });
      for (const k of ['rejected', 'internal'] as const) this.frameErrors.labels(t, k).inc(0);
    }
    for (const state of ['started', 'stopped'])
      for (const outcome of ['published', 'throttled']) this.typing.labels(state, outcome).inc(0);
    for (const s of ['online', 'away', 'offline']) this.presenceChanges.labels(s).inc(0);
    for (const c of Object.values(CloseCodes)) this.closed.labels(String(c.code)).inc(0);
    this.closed.labels('1006').inc(0);
    for (const t of [...clientFrameTypes, 'invalid']) this.received.labels(t).inc(0);
    for (const t of serverFrameTypes) this.sent.labels(t).inc(0);
    for (const r of ['invalid', 'expired', 'revoked', 'unavailable', 'timeout', 'too_many'])
      this.authFailures.labels(r).inc(0);
    this.hot = {
      received: new HotCounter(this.received, 'type'),
      sent: new HotCounter(this.sent, 'type'),
      frameSeconds: new HotHistogram(this.frameSeconds, 'type'),
      deliveryLatency: new HotHistogram(this.deliveryLatency, 'stage'),
    };
  }

  /** Times one frame's handler; an exception counts as an `internal` failure and is rethrown. */
  async timeFrame(type: string, handle: () => Promise<void>): Promise<void> {
    const start = performance.now();
    try {
      await handle();
    } catch (err) {
      this.frameErrors.labels(type, 'internal').inc();
      throw err;
    } finally {
      this.hot.frameSeconds.observe(type, (performance.now() - start) / 1000);
    }
  }
}

/** Frames that go through a handler (ping is answered inline). */
const handledFrameTypes = clientFrameTypes.filter((t) => t !== 'ping');
