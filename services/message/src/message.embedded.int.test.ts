import { messageHttpSuite } from './message.suite.ts';

messageHttpSuite('embedded adapters', () => ({}));
