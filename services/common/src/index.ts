export * from './config.ts';
export * from './errors.ts';
export * from './logger.ts';
export * from './metrics.ts';
export * from './hotmetrics.ts';
export * from './health.ts';
export * from './http.ts';
export { createManagementServer, listenManagement, type ManagementOptions } from './management.ts';
export * from './retry.ts';
export * from './shutdown.ts';
export * from './tracing.ts';
export { findNul } from './nul.ts';
export { checkJsonShape, JSON_LIMITS, type JsonShapeProblem } from './jsonshape.ts';
export { recordContext, traceHeaders, tracedEventLog } from './eventlog/traced.ts';
export * from './settings.ts';
// Connecting the adapters loads every driver (mongodb, kafkajs, ioredis, better-sqlite3, twilio):
// that lives behind '@parley/common/dependencies' and '@parley/common/service' (runService, main),
// so importing this index does not. Their types are free, so they stay here.
export type { CommonConfig, ConnectOptions, Connected, Dependencies } from './dependencies.ts';
export type { ModuleContext, RunOptions, Running, ServiceModule } from './service.ts';
export { packageVersion } from './version.ts';
export * from './process.ts';
export * from './docstore/port.ts';
export * from './docstore/textindex.ts';
export * from './eventlog/port.ts';
export * from './cache/port.ts';
export * from './sms/port.ts';
export type { MailMessage, Mailer } from './mail/port.ts';
export * from './api.ts';
export * from './jwtverify.ts';
export * from './ratelimit.ts';
export { inParallel, mapInParallel } from './parallel.ts';
