#!/usr/bin/env bash
# Hostile input, short forms (#8), against embedded mode only (the stack is not up yet here):
# schemathesis over the merged OpenAPI document (fixed seed, ~10 cases per operation, known
# findings accepted through scripts/hostile/schemathesis-baseline.json), then the WebSocket
# fuzzer (~50 s). The authorization matrix runs with the integration tests
# (services/standalone/src/authz/*.int.test.ts; it starts a server). Long forms: `bash scripts/hostile/schemathesis.sh --long`,
# `node --import tsx scripts/hostile/wsfuzz.ts`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
uptime
bash scripts/hostile/schemathesis.sh
node --import tsx scripts/hostile/wsfuzz.ts --short
