import { eventLogContract } from './contract.ts';
import { KafkaEventLog } from './kafka.ts';
import { requireEnv } from '../testenv.ts';

eventLogContract(
  'Kafka (kafkajs)',
  async () =>
    KafkaEventLog.connect({ brokers: requireEnv('KAFKA_BROKERS').split(','), clientId: 'parley-contract' }),
  { timeoutMs: 30_000 },
);
