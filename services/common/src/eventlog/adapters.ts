/**
 * The event log's two adapters, for tools that need the log alone (the DLQ command): importing the
 * package root loads no driver, and connectDependencies opens every port.
 */
export { EmbeddedEventLog } from './embedded.ts';
export { KafkaEventLog } from './kafka.ts';
