#!/usr/bin/env bash
# Install helm and kubeconform (built from source with `go install`, via the Go
# module proxy) into a cached bin dir, and print their versions. Separate from
# up.sh: call it only from tests that need chart rendering/validation.
#
#   scripts/stack/tools.sh          install if missing, print versions + bin dir
#   scripts/stack/tools.sh --env    same, but print only `export PATH=<bin>:$PATH`
#                                   (use: eval "$(scripts/stack/tools.sh --env)")
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

: "${PARLEY_HELM_VERSION:=v3.22.0}"
: "${PARLEY_KUBECONFORM_VERSION:=v0.8.0}"
TOOLS_BIN="$PARLEY_CACHE_DIR/tools/bin"

env_only=0
[[ ${1:-} == --env ]] && env_only=1
say() { if ((env_only)); then printf '%s\n' "$*" >&2; else log "$*"; fi; }

# install_tool NAME MODULE/CMD VERSION LDFLAGS
install_tool() {
  local name=$1 pkg=$2 version=$3 ldflags=$4 stamp="$TOOLS_BIN/.$1.version" tmp
  if [[ -x $TOOLS_BIN/$name && $(cat "$stamp" 2>/dev/null) == "$version" ]]; then
    return 0
  fi
  ensure_go
  say "installing $name $version (go install $pkg@$version)"
  mkdir -p "$TOOLS_BIN"
  tmp=$(mktemp -d "$TOOLS_BIN/.tmp.XXXXXX")
  if ! GOBIN=$tmp CGO_ENABLED=0 "$GO_BIN" install -trimpath -ldflags "$ldflags" "$pkg@$version" \
    >"$tmp.log" 2>&1; then
    log_tail "$tmp.log" 30
    rm -rf "$tmp"
    die "missing: $name. 'go install $pkg@$version' failed (log: $tmp.log)"
  fi
  mv -f "$tmp/$name" "$TOOLS_BIN/$name"
  echo "$version" >"$stamp"
  rm -rf "$tmp" "$tmp.log"
}

install_tool helm helm.sh/helm/v3/cmd/helm "$PARLEY_HELM_VERSION" \
  "-s -w -X helm.sh/helm/v3/internal/version.version=$PARLEY_HELM_VERSION"
install_tool kubeconform github.com/yannh/kubeconform/cmd/kubeconform "$PARLEY_KUBECONFORM_VERSION" \
  "-s -w -X main.version=$PARLEY_KUBECONFORM_VERSION"

if ((env_only)); then
  # shellcheck disable=SC2016 # $PATH must stay literal for the caller's eval
  printf 'export PATH=%q:"$PATH"\n' "$TOOLS_BIN"
else
  log "helm:        $("$TOOLS_BIN/helm" version --short)"
  log "kubeconform: $("$TOOLS_BIN/kubeconform" -v)"
  log "bin dir:     $TOOLS_BIN   (eval \"\$($STACK_SCRIPTS_DIR/tools.sh --env)\")"
fi
