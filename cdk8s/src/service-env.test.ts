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
    for (const role of ['api', 'worker', 'media', 'notifier']) {
      it(`is accepted by the message ${role}`, () => {
        const env = environment(docs, `${fullname}-message-${role}`);
        expect(env.ROLE).to.equal(role);
        loadConfig(messageSettings, env);
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
