import { authHttpSuite } from './auth.suite.ts';

authHttpSuite('embedded adapters', () => ({}));
