import { administrationCases, inactivityCases } from './suites/admin.suite.ts';
import { emailCases } from './suites/email.suite.ts';
import { githubCases } from './suites/github.suite.ts';
import { documentCases, eventCases, metricsCases } from './suites/operations.suite.ts';
import { otpCases } from './suites/otp.suite.ts';
import { passwordCases } from './suites/password.suite.ts';
import { profileCases } from './suites/profile.suite.ts';
import { sessionCases } from './suites/sessions.suite.ts';
import { AuthHarness } from './testing/harness.ts';

/**
 * The auth service's HTTP contract, run in-process against embedded adapters and against the real
 * local stack. Every response is checked against the served OpenAPI document. The cases live in
 * suites/, one file per feature; they share one running service (testing/harness.ts).
 */
export function authHttpSuite(name: string, stackEnv: () => Record<string, string>): void {
  describe(`auth service over HTTP: ${name}`, function () {
    this.timeout(60_000);
    const h = new AuthHarness(stackEnv);
    h.hooks();
    passwordCases(h);
    sessionCases(h);
    otpCases(h);
    emailCases(h);
    githubCases(h);
    profileCases(h);
    administrationCases(h);
    metricsCases(h);
    inactivityCases(h);
    eventCases(h);
    documentCases(h);
  });
}
