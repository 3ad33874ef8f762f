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
  };
  return destination ? pino(opts, destination) : pino(opts);
}
