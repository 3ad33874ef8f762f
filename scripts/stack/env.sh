#!/usr/bin/env bash
# Print `export` lines for the env vars Parley's services/tests use to reach
# the local stack:   eval "$(scripts/stack/env.sh)"
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

redis_nodes=$(printf "$PARLEY_HOST:%s," "${REDIS_PORTS[@]}")
cat <<EOF2
export KAFKA_BROKERS=$PARLEY_HOST:$PARLEY_KAFKA_PORT
export MONGO_URL=mongodb://$PARLEY_HOST:$PARLEY_MONGO_PORT/$PARLEY_MONGO_DB
export REDIS_NODES=${redis_nodes%,}
export SMTP_URL=smtp://$PARLEY_HOST:$PARLEY_SMTP_PORT
export MAILPIT_API_URL=http://$PARLEY_HOST:$PARLEY_MAILPIT_HTTP_PORT
export S3_ENDPOINT=http://$PARLEY_HOST:$PARLEY_S3_PORT
export S3_BUCKET=$PARLEY_S3_BUCKET
export S3_ACCESS_KEY_ID=$PARLEY_S3_ACCESS_KEY
export S3_SECRET_ACCESS_KEY=$PARLEY_S3_SECRET_KEY
EOF2
