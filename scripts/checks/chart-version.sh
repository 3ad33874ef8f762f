#!/usr/bin/env bash
# The chart's version rule (#16): any change under charts/parley since the commit that last set
# `version:` in charts/parley/Chart.yaml needs a new version. Semver: patch for a fix that keeps
# every values file working, minor for new values or new objects, major for a removed or renamed
# value. The version lives in cdk8s/src/values/parley.ts (CHART_VERSION); `npm run chart` writes it.
#
# Uncommitted and untracked files count, so running this before committing catches a missed bump.
# The base is found in git history; without history (shallow clone, no git) the check is skipped.
#
#   bash scripts/checks/chart-version.sh [repository directory]
set -euo pipefail
repo=${1:-$(dirname "${BASH_SOURCE[0]}")/../..}
cd "$repo"
chart=charts/parley
chart_yaml=$chart/Chart.yaml
skip() {
  echo "chart version check skipped: $*"
  exit 0
}
fail() {
  echo "chart version check FAILED: $*" >&2
  exit 1
}

git rev-parse --git-dir >/dev/null 2>&1 || skip "not a git checkout"
[[ $(git rev-parse --is-shallow-repository) == false ]] ||
  skip "shallow clone; fetch the whole history (git fetch --unshallow, or actions/checkout fetch-depth: 0)"
[[ -f $chart_yaml ]] || fail "$chart_yaml is missing"

# The `version:` line of a Chart.yaml given on stdin.
version_of() { sed -n 's/^version:[[:space:]]*["'\'']\{0,1\}\([^"'\''[:space:]]*\).*$/\1/p' | head -1; }
semver='^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$'

current=$(version_of <"$chart_yaml")
[[ $current =~ $semver ]] || fail "version '$current' in $chart_yaml is not semver (MAJOR.MINOR.PATCH)"

# -G matches the lines a commit adds or removes, so this is the commit that last set the version;
# --first-parent -m also sees a merge that brought a new version in (against its first parent).
base=$(git log -1 --format=%H --first-parent -m -G'^version:' -- "$chart_yaml")
[[ -n $base ]] || skip "no commit has set the version in $chart_yaml yet"
released=$(git show "$base:$chart_yaml" | version_of)
short=$(git rev-parse --short "$base")

if [[ $current != "$released" ]]; then
  # Bumped in the working tree: it must go up.
  newest=$(printf '%s\n%s\n' "$released" "$current" | sort -V | tail -1)
  [[ $newest == "$current" ]] || fail "version $current in $chart_yaml is lower than $released (set in $short)"
  echo "chart version check passed: $released -> $current (not committed yet)"
  exit 0
fi

# Tracked changes from the base to the working tree, plus new files git does not know yet.
changed=$(
  git diff --name-only "$base" -- "$chart"
  git ls-files --others --exclude-standard -- "$chart"
)
if [[ -n $changed ]]; then
  echo "changed under $chart since $short set version $released:" >&2
  sed 's/^/  /' <<<"$changed" >&2
  fail "every change to $chart needs a new chart version (patch: a fix that keeps values compatible; minor: new values or objects; major: removed or renamed values). Set CHART_VERSION in cdk8s/src/values/parley.ts and run 'npm run chart'"
fi
echo "chart version check passed: $chart unchanged since $short set version $released"
