#!/usr/bin/env bash
# Everything CI runs: gofmt, go vet, every Go test (including the tests against moto_server and
# the in-memory registry), cfn-lint and cdk-nag on every golden template.
# A missing tool (moto_server, cfn-lint, npm, the cdk-nag harness) fails the run when CI=true and is
# reported as SKIPPED otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
# The cdk-nag harness lives beside the checkout in ../shared (CDK_NAG overrides).
cdk_nag=
for candidate in "${CDK_NAG:-}" "$root/../shared/tools/cdk-nag/run.sh" /work/shared/tools/cdk-nag/run.sh; do
  if [ -n "$candidate" ] && [ -x "$candidate" ]; then cdk_nag=$candidate; break; fi
done
skipped=()

step() { printf '\n== %s\n' "$*" >&2; }
missing() {
  if [ "${CI:-}" = true ]; then
    echo "FAIL: $1 (CI=true requires it)" >&2
    exit 1
  fi
  echo "SKIPPED: $1 (with CI=true this is a failure)" >&2
  skipped+=("$1")
}

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go'; git ls-files --others --exclude-standard '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:" >&2
  echo "$unformatted" >&2
  exit 1
fi

step "go vet"
go vet ./...

step "go test"
command -v moto_server >/dev/null || missing "moto_server is not on PATH: the emulator tests cannot run"
# -count=1: some tests talk to processes (moto_server, go list) whose results go's test cache cannot see.
go test -count=1 ./...

step "cfn-lint (zero errors, zero warnings)"
if command -v cfn-lint >/dev/null; then
  cfn-lint --version >&2
  cfn-lint --non-zero-exit-code warning golden/*.yaml
  echo "cfn-lint: $(ls golden/*.yaml | wc -l) templates clean" >&2
else
  missing "cfn-lint is not on PATH: the golden templates were not linted"
fi

step "cdk-nag AwsSolutions (no unsuppressed error)"
if [ -z "$cdk_nag" ]; then
  missing "the cdk-nag harness is not at ../shared/tools/cdk-nag/run.sh (set CDK_NAG to its path)"
elif ! command -v npm >/dev/null; then
  missing "npm is not on PATH: cdk-nag cannot be installed"
else
  for tpl in golden/*.yaml; do
    printf '%s: ' "$tpl" >&2
    out=$("$cdk_nag" "$tpl") || { echo "$out" >&2; echo "cdk-nag failed on $tpl" >&2; exit 1; }
    echo "$out" | tail -n 1 >&2
  done
fi

if [ ${#skipped[@]} -gt 0 ]; then
  printf '\nPASSED, but SKIPPED:\n' >&2
  printf '  - %s\n' "${skipped[@]}" >&2
else
  printf '\nPASSED\n' >&2
fi
