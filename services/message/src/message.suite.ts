import { actionCases } from './testing/actions.cases.ts';
import { conversationCases } from './testing/conversations.cases.ts';
import { MessageHarness } from './testing/harness.ts';
import { messageCases } from './testing/messages.cases.ts';
import { pipelineCases } from './testing/pipeline.cases.ts';

/** The message service's REST contract and pipeline, embedded and on the real local stack. */
export function messageHttpSuite(name: string, stackEnv: () => Record<string, string>): void {
  describe(`message service over HTTP: ${name}`, function () {
    this.timeout(60_000);
    const h = new MessageHarness(stackEnv);
    before(() => h.start());
    after(() => h.stop());
    conversationCases(h);
    messageCases(h);
    actionCases(h);
    pipelineCases(h);
  });
}
