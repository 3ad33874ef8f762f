#!/usr/bin/env bash
# The SDK's REST types (services/client/src/openapi.ts) match the OpenAPI document the server
# serves, its chat event types (services/client/src/events.ts) match the AsyncAPI document
# (services/message/asyncapi.yaml), and the demo web client (browser code, DOM types) type-checks.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
node --import tsx scripts/gen-client-types.ts --check
npx tsc -p services/client/demo
