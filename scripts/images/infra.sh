#!/usr/bin/env bash
# Builds the infrastructure images the chart runs, on the Debian and Node bases of base.sh, from
# the same sources as the local stack (scripts/stack): nothing is pulled. values-local.yaml names
# them. Each runs as the non-root user of the image the chart names by default.
#   localhost/parley-infra/kafka:<ver>     Apache jars from Maven Central + Debian's Java 17, with
#                                          the apache/kafka env contract (KAFKA_* → properties)
#   localhost/parley-infra/redis:7         Debian's redis-server and redis-cli
#   localhost/parley-infra/mongodb:ferretdb-<ver>  STAND-IN: FerretDB v1 on PostgreSQL 15 behind a
#                                          `mongod` shim (a one-member "replica set" with SCRAM
#                                          users), and mongosh; no mongod is to be had here
#
#   bash scripts/images/infra.sh
set -euo pipefail
# A failing step used to end this script without a word (a CI run showed only "FAIL images").
trap 'echo "[images] infra.sh: line $LINENO failed (exit $?): $BASH_COMMAND" >&2' ERR
# shellcheck source=scripts/images/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bash "$IMAGES_SCRIPTS_DIR/base.sh"
pod_setup
cf=$IMAGES_SCRIPTS_DIR/containerfiles

# The Kafka jars come from the local stack's cache (resolved if missing).
stack_lib=$IMAGES_REPO_ROOT/scripts/stack/lib.sh
# shellcheck source=scripts/stack/lib.sh
kafka_libs=$(source "$stack_lib" && ensure_kafka_libs >&2 && kafka_libs_dir)
kafka_version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$IMAGES_REPO_ROOT/scripts/stack/kafka/pom.xml")
# FerretDB's own command (cmd/ferretdb), not the stack's embedded wrapper: only the command has
# --repl-set-name (the set name in `hello`, which MONGO_URL's replicaSet= needs) and the SCRAM
# authentication the chart's credentials need (--test-enable-new-auth, --setup-*). Built from the
# stack's wrapper module vendored, with build/version/version.txt written into the vendored copy
# (the published module lacks that generated file and the command panics without it).
ferretdb_src=$IMAGES_REPO_ROOT/scripts/stack/ferretdb
ferretdb_version=$(sed -n 's:.*github.com/FerretDB/FerretDB \(v[^ ]*\).*:\1:p' "$ferretdb_src/go.mod" | head -1)
# shellcheck disable=SC2031 # the stack lib sets it only in the subshell above, to the same value
ferretdb_out=$PARLEY_CACHE_DIR/ferretdb/cmd-$ferretdb_version-$(content_key -- "$ferretdb_src/go.mod" "$ferretdb_src/go.sum" "${BASH_SOURCE[0]}")
ferretdb_bin=$ferretdb_out/ferretdb
if [[ ! -x $ferretdb_bin ]]; then
  ilog "building FerretDB $ferretdb_version (cmd/ferretdb) into $ferretdb_out"
  work=$(mktemp -d)
  cp "$ferretdb_src/go.mod" "$ferretdb_src/go.sum" "$ferretdb_src/main.go" "$work/"
  printf '//go:build tools\n\npackage main\n\nimport _ "github.com/FerretDB/FerretDB/cmd/ferretdb"\n' >"$work/tools.go"
  (
    cd "$work"
    go mod tidy && go mod vendor &&
      echo "$ferretdb_version" >vendor/github.com/FerretDB/FerretDB/build/version/version.txt &&
      mkdir -p "$ferretdb_out" &&
      CGO_ENABLED=0 go build -mod=vendor -trimpath -ldflags "-s -w" -o "$ferretdb_bin.tmp" github.com/FerretDB/FerretDB/cmd/ferretdb
  ) >"$PARLEY_IMAGES_DIR/build-ferretdb.log" 2>&1 || {
    tail -n 20 "$PARLEY_IMAGES_DIR/build-ferretdb.log" >&2
    idie "building FerretDB failed (log: $PARLEY_IMAGES_DIR/build-ferretdb.log)"
  }
  mv "$ferretdb_bin.tmp" "$ferretdb_bin"
  rm -rf "$work"
fi

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
cp "$cf/mongodb.Containerfile" "$cf/mongod-ferretdb" "$ferretdb_src/id-index.sql" "$ctx/"
build_image "localhost/parley-infra/mongodb:ferretdb-$ferretdb_version" "$ctx" "$ctx/mongodb.Containerfile" \
  "$(content_key "$node_id" -- "$ferretdb_bin" "$cf/mongodb.Containerfile" "$cf/mongod-ferretdb" "$ferretdb_src/id-index.sql")" \
  --build-arg BASE_IMAGE="$NODE_IMAGE" --build-arg BUILD_IMAGE="$NODE_BUILD_IMAGE"
