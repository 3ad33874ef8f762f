import { trace, TraceFlags } from '@opentelemetry/api';
import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/** Paths that must never reach a log line. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["sec-websocket-protocol"]',
  'res.headers["set-cookie"]',
  '*.password',
  '*.token',
  '*.accessToken',
  '*.refreshToken',
  '*.secret',
];

export interface LoggerConfig {
  level: string;
  name: string;
  /** Fixed fields on every line (role, version). */
  base?: Record<string, unknown>;
}

/** JSON logs to stdout; `destination` lets tests capture lines. */
export function createLogger(cfg: LoggerConfig, destination?: pino.DestinationStream): Logger {
  const opts: LoggerOptions = {
    name: cfg.name,
    level: cfg.level,
    base: { pid: process.pid, ...cfg.base },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    mixin: traceFields,
  };
  return destination ? pino(opts, destination) : pino(opts);
}

/**
 * The active span's ids on every line logged inside a recorded (sampled) trace, with
 * OpenTelemetry's log field names, so a log line leads to its trace. An unsampled trace is named
 * nowhere: it cannot be looked up, and its context is not carried across awaits
 * (tracecontext.ts). With tracing off there is never an active span.
 */
export function traceFields(): Record<string, string> {
  const span = trace.getActiveSpan();
  if (!span) return {};
  const { traceId, spanId, traceFlags } = span.spanContext();
  if ((traceFlags & TraceFlags.SAMPLED) === 0) return {};
  return { trace_id: traceId, span_id: spanId, trace_flags: `0${traceFlags.toString(16)}`.slice(-2) };
}
