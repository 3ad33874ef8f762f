// Shared by the verify/bench scripts: import an npm package from the repo's node_modules, or
// else from the current working directory (e.g. a scratch dir with `npm i mongodb`).
import { createRequire } from 'node:module';
import path from 'node:path';

export async function load(name) {
  try {
    return await import(name);
  } catch {
    const req = createRequire(path.join(process.cwd(), 'noop.js'));
    return await import(req.resolve(name));
  }
}
