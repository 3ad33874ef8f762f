/** The chaos run's report: one markdown table of phases, faults, losses and latencies. */
import type { ChaosResult } from './result.ts';
import { fmt, markdownTable } from './table.ts';

const secs = (ms: number | undefined) => (ms === undefined ? '–' : fmt(ms / 1000));

export function summary(r: ChaosResult): string {
  const rows = r.phases.map((p) => [
    p.fault,
    p.sent,
    p.acked,
    p.stored,
    p.lost,
    p.storedTwice,
    p.unacked + p.failed,
    `${p.delivered}/${p.expectedDeliveries}`,
    p.duplicatesShown,
    p.fault === 'baseline' ? '–' : secs(p.ackRecoveryMs),
    p.fault === 'baseline' ? '–' : secs(p.recoveryMs),
    secs(p.maxAckMs),
    secs(p.maxE2eMs),
    p.unexpectedExits,
    p.pass ? 'pass' : 'FAIL',
  ]);
  const table = markdownTable(
    [
      'fault',
      'sent',
      'acked',
      'stored',
      'lost',
      'stored 2×',
      'unacked',
      'shown/expected',
      'dup shown',
      'acks back s',
      'recovery s',
      'max ack s',
      'max e2e s',
      'crashes',
      'result',
    ],
    rows,
  );
  const lines = [
    table,
    '',
    `seqs gap-free in every conversation: ${r.seqGaps.length === 0 ? 'yes' : `NO (${r.seqGaps.length} conversations)`}; ` +
      `stored without an ack: ${r.storedUnacked}; DLQ records: ${r.dlqRecords}; stack healthy at the end: ${r.stackHealthyAtEnd ? 'yes' : 'NO'}`,
    `${r.options.rate} sends/s, ${r.options.users} users, ${r.options.conversations} conversations of ${r.options.membersPerConversation}; ` +
      `${r.options.phaseS} s per fault; load average ${r.loadAverage ?? '?'}`,
  ];
  for (const p of r.phases)
    if (p.notes.length || p.error)
      lines.push(`${p.fault}: ${p.notes.join('; ')}${p.error ? `; ERROR ${p.error}` : ''}`);
  for (const e of r.errors) lines.push(`error: ${e}`);
  for (const d of r.diagnostics) lines.push(`diagnostic: ${d}`);
  if (r.logDir && !r.pass) lines.push(`process logs: ${r.logDir}`);
  lines.push(r.pass ? 'RESULT: pass' : 'RESULT: FAIL');
  return lines.join('\n');
}
