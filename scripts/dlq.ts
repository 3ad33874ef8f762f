/**
 * The dead-letter topic by hand (#21): what is in chat.messages.dlq, and sending it back.
 *   npm run dlq -- list      the pending records (not yet replayed or dropped), one JSON line each
 *   npm run dlq -- replay    send every pending record back to chat.messages, for the worker
 *   npm run dlq -- drop      mark every pending record handled without sending it
 * Configured like the message service: KAFKA_BROKERS (absent: the embedded log in DATA_DIR, with
 * Parley stopped, as only one process may use that file), TOPIC_CHAT_MESSAGES, TOPIC_CHAT_DLQ and
 * WORKER_GROUP_ID (progress is the committed offsets of the group `<WORKER_GROUP_ID>.dlq`). The
 * chart runs this file as a Job (`message.dlqReplay`). A replay is idempotent (see DeadLetters).
 * Exit 0 when done, 1 on a failure, 2 on a usage error.
 */
import { join } from 'node:path';
import { commonSettings, loadConfig, type EventLog } from '@parley/common';
import { EmbeddedEventLog, KafkaEventLog } from '@parley/common/eventlog';
import { messageSettings } from '../services/message/src/config.ts';
import { DeadLetters } from '../services/message/src/worker/deadletters.ts';

const COMMANDS = ['list', 'replay', 'drop'] as const;
type Command = (typeof COMMANDS)[number];

const command = process.argv[2] as Command;
if (!COMMANDS.includes(command)) {
  console.error(`usage: npm run dlq -- ${COMMANDS.join('|')}`);
  process.exit(2);
}

const { dataDir, kafka } = commonSettings;
const { topicMessages, topicDlq, workerGroup } = messageSettings.chat;
const cfg = loadConfig({ dataDir, kafka, chat: { topicMessages, topicDlq, workerGroup } });

const events: EventLog = cfg.kafka.brokers
  ? await KafkaEventLog.connect({
      brokers: cfg.kafka.brokers,
      clientId: `${cfg.kafka.clientId}-dlq`,
      sessionTimeoutMs: cfg.kafka.sessionTimeoutMs,
    })
  : new EmbeddedEventLog({ db: join(cfg.dataDir, 'parley.db') });

let code = 0;
try {
  const dlq = new DeadLetters(events, {
    dlq: cfg.chat.topicDlq,
    messages: cfg.chat.topicMessages,
    group: `${cfg.chat.workerGroup}.dlq`,
  });
  const result = await dlq[command]();
  for (const r of result.records) console.log(JSON.stringify(r));
  const where = `${cfg.chat.topicDlq} (${events.kind})`;
  console.error(
    command === 'list'
      ? `${result.records.length} pending record(s) in ${where}`
      : `${command === 'replay' ? 'replayed' : 'dropped'} ${result.handled} record(s) from ${where}`,
  );
} catch (err) {
  console.error(`dlq ${command} failed: ${err instanceof Error ? err.message : String(err)}`);
  code = 1;
} finally {
  await events.close();
}
process.exit(code);
