import { authSettings } from '@parley/auth';
import { loadConfig } from '@parley/common';
import { messageSettings } from '@parley/message';
import { expect } from 'chai';
import { checkOperatorConfig, operatorSettings } from '../../operators/src/config.ts';
import { environment, synthDocs } from './testkit.ts';
import { defaultValues } from './values/parley.ts';
import { CI_VALUES, PROFILES } from './values/profiles.ts';
import { mergeValues } from './values/spec.ts';

for (const [name, overlay] of Object.entries({ defaults: {}, ...PROFILES, ...CI_VALUES })) {
  describe(`service configuration from the chart (${name})`, () => {
    const docs = synthDocs(mergeValues(defaultValues(), overlay));
    const fullname = docs
      .find((d) => d.kind === 'Deployment' && d.metadata.name.endsWith('-auth'))!
      .metadata.name.replace(/-auth$/, '');

    it('is accepted by the auth service', () => {
      const config = loadConfig(authSettings, environment(docs, `${fullname}-auth`));
      expect(JSON.stringify(config)).to.include('/etc/parley/jwt/signing-keys');
    });
    /** Partitions of each topic as the chart's Topic resources declare them. */
    const declared = new Map(
      docs
        .filter((d) => d.kind === 'Topic')
        .map((d) => {
          const spec = (d as unknown as { spec: { topicName: string; partitions: number } }).spec;
          return [spec.topicName, spec.partitions];
        }),
    );
    for (const role of ['api', 'worker', 'media', 'notifier']) {
      it(`is accepted by the message ${role}, which creates topics as the Topic resources declare them`, () => {
        const env = environment(docs, `${fullname}-message-${role}`);
        expect(env.ROLE).to.equal(role);
        const { chat, notify } = loadConfig(messageSettings, env);
        // A service starting before the operator creates them; the operator cannot shrink a topic.
        expect(chat.partitions).to.equal(declared.get(chat.topicMessages));
        expect(chat.partitions).to.equal(declared.get(chat.topicEvents));
        expect(chat.dlqPartitions).to.equal(declared.get(chat.topicDlq));
        expect(chat.dlqPartitions).to.equal(declared.get(notify.topicDlq));
      });
    }
    it('is accepted by the operator, which watches and leads in its own namespace', () => {
      const env = environment(docs, `${fullname}-operator`);
      const config = checkOperatorConfig(loadConfig(operatorSettings, env));
      expect(config.leader.name).to.equal(`${fullname}-operator`);
      expect(env.MONGO_URL, 'the operator gets no database credentials').to.equal(undefined);
    });
  });
}
