#!/usr/bin/env bash
# Builds @parley/client into the tarball npm users install: compiled ESM with source maps, type
# declarations and an exports map (the workspace itself runs the TypeScript sources through tsx).
#
#   bash scripts/sdk/pack.sh [out-dir]      # default dist/sdk; prints the tarball's path
#
# The compiled tree stays in services/client/dist too: the web demo bundles it when present.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
out=$(mkdir -p "${1:-dist/sdk}" && cd "${1:-dist/sdk}" && pwd)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
rm -rf services/client/dist
npx tsc -p services/client/tsconfig.build.json
# Declarations keep the sources' `.ts` specifiers; consumers resolve `.js`.
find services/client/dist -name '*.d.ts' -exec sed -i -E "s#(from '\.{1,2}/[^']+)\.ts'#\1.js'#g" {} +
cp -r services/client/dist "$stage/dist"
node -e '
  const pkg = require("./services/client/package.json");
  const { devDependencies, ...rest } = pkg;
  const out = {
    ...rest,
    main: "./dist/index.js",
    types: "./dist/index.d.ts",
    exports: { ".": { types: "./dist/index.d.ts", default: "./dist/index.js" }, "./package.json": "./package.json" },
    files: ["dist", "README.md"],
  };
  process.stdout.write(JSON.stringify(out, null, 2) + "\n");
' >"$stage/package.json"
cp services/client/README.md "$stage/"
(cd "$stage" && npm pack --silent --pack-destination "$out" >/dev/null)
ls "$out"/parley-client-*.tgz | tail -1
