import { expect } from 'chai';
import * as server from '../../message/src/gateway/protocol.ts';
import { BEARER_PROTOCOL_PREFIX, PROTOCOL, eventTypes } from './frames.ts';

// The SDK keeps its own copy of the wire constants (it cannot import the server's zod schemas
// into a browser bundle); these keep the copies in step.
describe('SDK frames match the server protocol', () => {
  it('has the same subprotocol names', () => {
    expect([PROTOCOL, BEARER_PROTOCOL_PREFIX]).to.deep.equal([
      server.PROTOCOL,
      server.BEARER_PROTOCOL_PREFIX,
    ]);
  });
  it('knows every chat event type the server sends', () => {
    expect([...eventTypes]).to.deep.equal([...server.eventFrameTypes]);
  });
});
