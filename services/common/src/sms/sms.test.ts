import { createLogger } from '../logger.ts';
import { ConsoleSms } from './console.ts';
import { smsContract } from './contract.ts';

const silent = createLogger({ level: 'silent', name: 'test' });

smsContract('console (embedded)', async () => {
  const sms = new ConsoleSms(silent);
  return { sms, delivered: () => sms.outbox };
});
