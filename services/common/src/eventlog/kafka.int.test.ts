import { eventLogContract } from './contract.ts';
import { KafkaEventLog } from './kafka.ts';
import { requireEnv } from '../testenv.ts';

eventLogContract(
  'Kafka (kafkajs)',
  async (metrics) =>
    KafkaEventLog.connect({
      brokers: requireEnv('KAFKA_BROKERS').split(','),
      clientId: 'parley-contract',
      metrics,
    }),
  { timeoutMs: 30_000 },
);
