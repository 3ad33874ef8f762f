#!/usr/bin/env bash
# No import cycles (#17): madge over every TypeScript source tree, then the message service's
# folders as layers (scripts/checks/layers.ts): no folder imports back into one that imports it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
npx madge --circular --no-spinner --extensions ts --ts-config tsconfig.json \
  services/common/src services/auth/src services/message/src services/standalone/src services/client/src \
  operators/src cdk8s/src scripts
node --import tsx scripts/checks/layers.ts services/message/src
