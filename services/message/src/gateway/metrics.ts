import client from 'prom-client';
import { clientFrameTypes, CloseCodes, serverFrameTypes } from './protocol.ts';

/** The gateway's series, registered at zero so dashboards have no gaps. No user or conversation labels. */
export class GatewayMetrics {
  readonly connections: client.Gauge;
  readonly opened: client.Counter;
  readonly closed: client.Counter<'code'>;
  readonly received: client.Counter<'type'>;
  readonly sent: client.Counter<'type'>;
  readonly bufferDrops: client.Counter;
  readonly authFailures: client.Counter<'reason'>;
  readonly deliveryLatency: client.Histogram;
  readonly resumedMessages: client.Counter;

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
    this.deliveryLatency = new client.Histogram({
      name: 'parley_delivery_latency_seconds',
      help: 'From the API accepting a message to its frame being written to the recipients’ sockets on this gateway.',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.resumedMessages = new client.Counter({
      name: 'parley_ws_resumed_messages_total',
      help: 'Messages replayed to sockets by resume.',
      registers,
    });
    for (const c of Object.values(CloseCodes)) this.closed.labels(String(c.code)).inc(0);
    this.closed.labels('1006').inc(0);
    for (const t of [...clientFrameTypes, 'invalid']) this.received.labels(t).inc(0);
    for (const t of serverFrameTypes) this.sent.labels(t).inc(0);
    for (const r of ['invalid', 'expired', 'revoked', 'timeout', 'too_many'])
      this.authFailures.labels(r).inc(0);
  }
}
