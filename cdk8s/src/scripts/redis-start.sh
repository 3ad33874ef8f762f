#!/bin/bash
# Writes the node's config (password from the environment, never in the pod spec's args) and
# starts redis-server. Clients get host names, which stay valid when a pod's IP changes.
set -euo pipefail
cat >/tmp/redis.conf <<CONF
port 6379
protected-mode no
dir /data
cluster-enabled yes
cluster-config-file /data/nodes.conf
cluster-node-timeout 5000
cluster-announce-hostname ${POD_NAME}.${HEADLESS}
cluster-preferred-endpoint-type hostname
appendonly yes
maxmemory ${MAXMEMORY}
maxmemory-policy ${MAXMEMORY_POLICY}
requirepass ${REDIS_PASSWORD}
masterauth ${REDIS_PASSWORD}
CONF
exec redis-server /tmp/redis.conf
