#!/usr/bin/env bash
# Builds the infrastructure images the chart runs, on the Debian and Node bases of base.sh, from
# the same sources as the local stack (scripts/stack): nothing is pulled. values-local.yaml names
# them. Each runs as the non-root user of the image the chart names by default.
#   localhost/parley-infra/kafka:<ver>     Apache jars from Maven Central + Debian's Java 17, with
#                                          the apache/kafka env contract (KAFKA_* → properties)
#   localhost/parley-infra/redis:7         Debian's redis-server and redis-cli
#   localhost/parley-infra/mongodb:ferretdb-<ver>  STAND-IN: FerretDB v1 (SQLite backend) behind a
#                                          `mongod` shim, and mongosh; no mongod is to be had here
#
#   bash scripts/images/infra.sh
set -euo pipefail
# shellcheck source=scripts/images/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bash "$IMAGES_SCRIPTS_DIR/base.sh"
pod_setup
cf=$IMAGES_SCRIPTS_DIR/containerfiles

# The Kafka jars and the FerretDB binary come from the local stack's caches (built if missing).
stack_lib=$IMAGES_REPO_ROOT/scripts/stack/lib.sh
# shellcheck source=scripts/stack/lib.sh
kafka_libs=$(source "$stack_lib" && ensure_kafka_libs >&2 && kafka_libs_dir)
kafka_version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$IMAGES_REPO_ROOT/scripts/stack/kafka/pom.xml")
# shellcheck source=scripts/stack/lib.sh
ferretdb_bin=$(source "$stack_lib" && ensure_ferretdb_bin >&2 && ferretdb_bin)
ferretdb_version=$(basename "$(dirname "$ferretdb_bin")")
ferretdb_version=${ferretdb_version%%-*}

base_id=$(pod image inspect --format '{{.Id}}' "$DEBIAN_IMAGE")
node_id=$(pod image inspect --format '{{.Id}}' "$NODE_IMAGE")

ctx=$PARLEY_IMAGES_DIR/ctx/kafka
rm -rf "$ctx" && mkdir -p "$ctx"
cp -r "$kafka_libs" "$ctx/libs"
cp "$cf/kafka.Containerfile" "$cf/kafka-run" "$cf/kafka-log4j2.yaml" "$ctx/"
build_image "localhost/parley-infra/kafka:$kafka_version" "$ctx" "$ctx/kafka.Containerfile" \
  "$(content_key "$base_id" "$(ls "$kafka_libs")" -- "$cf/kafka.Containerfile" "$cf/kafka-run" "$cf/kafka-log4j2.yaml")" \
  --build-arg BASE_IMAGE="$DEBIAN_IMAGE"

build_image localhost/parley-infra/redis:7 "$cf" "$cf/redis.Containerfile" \
  "$(content_key "$base_id" -- "$cf/redis.Containerfile")" --build-arg BASE_IMAGE="$DEBIAN_IMAGE"

ctx=$PARLEY_IMAGES_DIR/ctx/mongodb
rm -rf "$ctx" && mkdir -p "$ctx"
cp "$ferretdb_bin" "$ctx/ferretdb"
cp "$cf/mongodb.Containerfile" "$cf/mongod-ferretdb" "$ctx/"
build_image "localhost/parley-infra/mongodb:ferretdb-$ferretdb_version" "$ctx" "$ctx/mongodb.Containerfile" \
  "$(content_key "$node_id" -- "$ferretdb_bin" "$cf/mongodb.Containerfile" "$cf/mongod-ferretdb")" \
  --build-arg BASE_IMAGE="$NODE_IMAGE" --build-arg BUILD_IMAGE="$NODE_BUILD_IMAGE"
