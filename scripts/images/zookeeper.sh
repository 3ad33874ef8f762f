#!/usr/bin/env bash
# Builds the images of the chart's ZooKeeper mode (kafka.mode=zookeeper) on the Debian base of
# base.sh, from Apache jars on Maven Central (scripts/images/zookeeper/pom.xml); nothing is
# pulled. scripts/kube/node/values-zookeeper.yaml names them.
#   localhost/parley-infra/zookeeper:<zk ver>  the official `zookeeper` image's contract
#                                              (/docker-entrypoint.sh, ZOO_*, user 1000)
#   localhost/parley-infra/kafka:<kafka 3.9>   Kafka 3.9 (the last line with ZooKeeper) with the
#                                              same KAFKA_* contract as the KRaft image (kafka-run)
#
#   bash scripts/images/zookeeper.sh
set -euo pipefail
# shellcheck source=scripts/images/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bash "$IMAGES_SCRIPTS_DIR/base.sh"
pod_setup
cf=$IMAGES_SCRIPTS_DIR/containerfiles
pom=$IMAGES_SCRIPTS_DIR/zookeeper/pom.xml
prop() { sed -n "s:.*<$1>\(.*\)</$1>.*:\1:p" "$pom"; }
zk_version=$(prop zookeeper.version)
kafka_version=$(prop kafka.version)
command -v mvn >/dev/null || idie "missing: mvn (bash scripts/stack/up.sh installs Maven)"

# jars PROFILE: the profile's runtime jars, resolved once into the cache (keyed by the pom).
jars() {
  local out
  out=$PARLEY_CACHE_DIR/zookeeper-mode/$1-$(content_key -- "$pom")
  if [[ ! -f $out/.complete ]]; then
    ilog "resolving the $1 jars from Maven Central into $out"
    rm -rf "$out.tmp" && mkdir -p "$out.tmp"
    mvn -B -q -f "$pom" -P "$1" dependency:copy-dependencies -DoutputDirectory="$out.tmp" \
      >"$PARLEY_IMAGES_DIR/mvn-$1.log" 2>&1 || {
      tail -n 30 "$PARLEY_IMAGES_DIR/mvn-$1.log" >&2
      idie "resolving the $1 jars failed (log: $PARLEY_IMAGES_DIR/mvn-$1.log)"
    }
    touch "$out.tmp/.complete"
    rm -rf "$out" && mv "$out.tmp" "$out"
  fi
  echo "$out"
}
base_id=$(pod image inspect --format '{{.Id}}' "$DEBIAN_IMAGE")

libs=$(jars zookeeper)
ctx=$PARLEY_IMAGES_DIR/ctx/zookeeper
rm -rf "$ctx" && mkdir -p "$ctx"
cp -r "$libs" "$ctx/libs" && rm -f "$ctx/libs/.complete"
cp "$cf/zookeeper.Containerfile" "$cf/zk-entrypoint" "$cf/zk-server" "$cf/kafka-log4j2.yaml" "$ctx/"
build_image "localhost/parley-infra/zookeeper:$zk_version" "$ctx" "$ctx/zookeeper.Containerfile" \
  "$(content_key "$base_id" "$(ls "$libs")" -- "$cf/zookeeper.Containerfile" "$cf/zk-entrypoint" "$cf/zk-server" "$cf/kafka-log4j2.yaml")" \
  --build-arg BASE_IMAGE="$DEBIAN_IMAGE"

libs=$(jars kafka)
ctx=$PARLEY_IMAGES_DIR/ctx/kafka-zookeeper
rm -rf "$ctx" && mkdir -p "$ctx"
cp -r "$libs" "$ctx/libs" && rm -f "$ctx/libs/.complete"
cp "$cf/kafka.Containerfile" "$cf/kafka-run" "$cf/kafka-log4j2.yaml" "$ctx/"
build_image "localhost/parley-infra/kafka:$kafka_version" "$ctx" "$ctx/kafka.Containerfile" \
  "$(content_key "$base_id" "$(ls "$libs")" -- "$cf/kafka.Containerfile" "$cf/kafka-run" "$cf/kafka-log4j2.yaml")" \
  --build-arg BASE_IMAGE="$DEBIAN_IMAGE"
ilog "ZooKeeper mode images: zookeeper:$zk_version, kafka:$kafka_version"
