import { resumeSuite } from './resume.suite.ts';

resumeSuite('embedded adapters', () => ({}));
