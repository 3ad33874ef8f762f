// Mocha root hooks for `npm run test:unit`: unit tests (*.test.ts) need no network (STYLE.md,
// "Tiers by suffix"). Listening on or connecting to a TCP port fails the test that tries, naming
// the rule; a test that needs a server is a *.int.test.ts (#17 item 9).
import net from 'node:net';

const refuse = (what) => {
  throw new Error(
    `unit tests (*.test.ts) need no network, but this one tried to ${what}: name it *.int.test.ts`,
  );
};
const isTcp = (args) => {
  const [first] = args;
  if (typeof first === 'string') return !/^[./\\]/.test(first) && !first.startsWith('\\\\?\\pipe');
  if (first && typeof first === 'object' && !Array.isArray(first)) return first.path === undefined;
  return true;
};
const listen = net.Server.prototype.listen;
const connect = net.Socket.prototype.connect;

export const mochaHooks = {
  beforeAll() {
    net.Server.prototype.listen = function (...args) {
      if (isTcp(args)) refuse('listen on a port');
      return listen.apply(this, args);
    };
    net.Socket.prototype.connect = function (...args) {
      if (isTcp(Array.isArray(args[0]) ? args[0] : args)) refuse('open a TCP connection');
      return connect.apply(this, args);
    };
  },
};
