import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { Parser, DiagnosticSeverity } from '@asyncapi/parser';
import { CloseCodes, clientFrameTypes, frameErrors, serverFrameTypes } from './gateway/protocol.ts';

const source = readFileSync(new URL('../asyncapi.yaml', import.meta.url), 'utf8');

interface Doc {
  components: { messages: { error: { payload: { properties: { code: { enum: string[] } } } } } };
  operations: Record<string, { messages: { payload: Schema }[] }>;
  channels: { gateway: { 'x-close-codes': { code: number; name: string; reconnect: string }[] } };
}
interface Schema {
  properties?: { type?: { const?: string } };
  allOf?: Schema[];
  oneOf?: Schema[];
}

/** The `type` const of a frame's payload (through allOf/oneOf compositions). */
function frameType(s: Schema): string | undefined {
  const own = s.properties?.type?.const;
  if (own) return own;
  for (const part of [...(s.allOf ?? []), ...(s.oneOf ?? [])]) {
    const t = frameType(part);
    if (t) return t;
  }
  return undefined;
}

describe('AsyncAPI document (services/message/asyncapi.yaml)', function () {
  this.timeout(30_000);
  let doc: Doc;

  before(async () => {
    const { document, diagnostics } = await new Parser().parse(source);
    const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error);
    expect(errors.map((d) => `${d.path.join('.')}: ${d.message}`)).to.deep.equal([]);
    expect(document, 'parsed document').to.not.equal(undefined);
    doc = document!.json() as unknown as Doc;
  });

  it('parses as AsyncAPI 3.0 with no errors', () => {
    expect(doc).to.have.property('operations');
  });

  it('lists exactly the client frame types of protocol.ts', () => {
    const types = doc.operations.receiveClientFrames!.messages.map((m) => frameType(m.payload));
    expect(types).to.deep.equal(clientFrameTypes);
  });

  it('lists exactly the server frame types of protocol.ts', () => {
    const types = doc.operations.sendServerFrames!.messages.map((m) => frameType(m.payload));
    expect(types).to.deep.equal([...serverFrameTypes]);
  });

  it('documents every error frame code of protocol.ts', () => {
    const documented = doc.components.messages.error.payload.properties.code.enum;
    expect(documented).to.include.members(Object.keys(frameErrors));
  });

  it('documents exactly the close codes of protocol.ts, with the same reconnect rule', () => {
    const expected = Object.entries(CloseCodes).map(([name, c]) => ({
      code: c.code,
      name,
      reconnect: c.reconnect,
    }));
    expect(doc.channels.gateway['x-close-codes']).to.deep.equal(expected);
  });
});
