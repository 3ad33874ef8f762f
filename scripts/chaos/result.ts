/** What a chaos run reports, per phase and in total (scripts/chaos/run.ts). */
import type { FaultName } from './faults.ts';
import type { TrafficOptions } from './traffic.ts';

export interface ChaosOptions extends TrafficOptions {
  faults: FaultName[];
  /** Seconds of traffic per fault (the phase also lasts until healing is done plus `settleS`). */
  phaseS: number;
  warmupS: number;
  settleS: number;
  /** After a phase, how long to wait for its sends to be acked and shown to everyone. */
  catchUpS: number;
  /** At the end, how long to wait for the last acks, the store and the deliveries (each). */
  finalWaitS: number;
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
}

export interface PhaseResult {
  fault: FaultName | 'baseline';
  startedAt: number;
  endedAt: number;
  notes: string[];
  /** Healing finished (ms after injection). */
  healedMs?: number;
  error?: string;
  sent: number;
  acked: number;
  /** Sends the SDK gave up on (a final error frame). */
  failed: number;
  /** Still unacknowledged when the run ended. */
  unacked: number;
  /** Acked messages found in the store (each at most once: ids and unique indexes). */
  stored: number;
  /** Acked messages not in the store. */
  lost: number;
  /** Acked messages stored more than once (same conversation, sender and clientMsgId). */
  storedTwice: number;
  expectedDeliveries: number;
  delivered: number;
  /** Duplicates the SDK showed (the same message id emitted twice to one user). */
  duplicatesShown: number;
  /** Injection until the last message the fault delayed was acked and shown to every member. */
  recoveryMs?: number;
  /** Injection until the last send the fault delayed was acked. */
  ackRecoveryMs?: number;
  maxAckMs?: number;
  maxE2eMs?: number;
  p99E2eMs?: number;
  /** Process exits nobody asked for (the supervisor restarted them). */
  unexpectedExits: number;
  pass: boolean;
}

export interface ChaosResult {
  options: ChaosOptions;
  phases: PhaseResult[];
  /** Conversations whose stored seqs are not exactly 1..n. */
  seqGaps: string[];
  /** Stored messages nobody got an ack for (a send in flight at a crash, re-sent: still stored once). */
  storedUnacked: number;
  dlqRecords: number;
  stackHealthyAtEnd: boolean;
  pass: boolean;
  table: string;
  errors: string[];
  /** Sends behind a failure and unfinished consumer partitions. */
  diagnostics: string[];
  logDir?: string;
  /** The machine's 1/5/15-minute load averages (others share it). */
  loadAverage?: string;
}
