import { authSettings } from '@parley/auth';
import { loadConfig } from '@parley/common';
import { messageSettings } from '@parley/message';
import { expect } from 'chai';
import { parseAllDocuments } from 'yaml';
import { checkOperatorConfig, operatorSettings } from '../../operators/src/config.ts';
import { synthPlain } from './main.ts';
import { defaultValues } from './values/parley.ts';
import { CI_VALUES, PROFILES } from './values/profiles.ts';
import { mergeValues } from './values/spec.ts';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The environment a container would see: values, Secret/field placeholders, $(VAR) expanded, envFrom ConfigMaps. */
function environment(docs: Json[], deployment: string): Record<string, string> {
  const d = docs.find((x) => x.kind === 'Deployment' && x.metadata.name === deployment)!;
  const c = d.spec.template.spec.containers[0];
  const env: Record<string, string> = {};
  for (const from of c.envFrom ?? []) {
    Object.assign(
      env,
      docs.find((x) => x.kind === 'ConfigMap' && x.metadata.name === from.configMapRef.name)!.data,
    );
  }
  for (const e of c.env) {
    if (e.valueFrom?.secretKeyRef?.optional) continue; // absent Secret: the feature stays off
    const raw =
      e.value ??
      (e.valueFrom?.secretKeyRef ? `secret${e.valueFrom.secretKeyRef.key.replace(/-/g, '')}` : 'pod-0');
    env[e.name] = raw.replace(/\$\(([A-Z_]+)\)/g, (_: string, name: string) => env[name] ?? '');
  }
  return env;
}

for (const [name, overlay] of Object.entries({ defaults: {}, ...PROFILES, ...CI_VALUES })) {
  describe(`service configuration from the chart (${name})`, () => {
    const docs = parseAllDocuments(synthPlain(mergeValues(defaultValues(), overlay)))
      .map((d) => d.toJS() as Json)
      .filter(Boolean);
    const fullname = docs
      .find((d) => d.kind === 'Deployment' && d.metadata.name.endsWith('-auth'))!
      .metadata.name.replace(/-auth$/, '');

    it('is accepted by the auth service', () => {
      const config = loadConfig(authSettings, environment(docs, `${fullname}-auth`));
      expect(JSON.stringify(config)).to.include('/etc/parley/jwt/signing-keys');
    });
    for (const role of ['api', 'worker']) {
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
