#!/usr/bin/env bash
# Runs golangci-lint with the repository's .golangci.yml in every module:
# those go.work lists, and the scripts/bench modules, which it does not
# (they are linted with GOWORK=off, as they are built); then dupl over the
# non-test code of all four modules at once. Exits non-zero if any module
# has a finding, or dupl finds a repeated block.
#
# golangci-lint v2.15.0 is installed with `go install` when it is missing or
# another version is on the PATH. Extra arguments go to `golangci-lint run`
# (e.g. ./scripts/lint.sh --fix).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

want=2.15.0
lint=$(command -v golangci-lint || true)
if [ -z "$lint" ] || [ "$("$lint" version --short 2>/dev/null)" != "$want" ]; then
  echo "== installing golangci-lint v$want"
  go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v$want"
  gobin=$(go env GOBIN)
  lint=${gobin:-$(go env GOPATH)/bin}/golangci-lint
fi
"$lint" version

# run_lint DIR [ENV...]: lints one module, in its own directory.
status=0
run_lint() {
  local dir=$1; shift
  echo "== golangci-lint ${dir#"$root"/}"
  # --allow-serial-runners: wait for another golangci-lint on this machine
  # (it holds a lock on the shared cache) instead of failing at once.
  if ! (cd "$dir" && env "$@" "$lint" run --allow-serial-runners --config "$root/.golangci.yml" "${args[@]}" ./...); then
    status=1
  fi
}
args=("$@")

mapfile -t modules < <(go list -m -f '{{.Dir}}')
for m in "${modules[@]}"; do
  run_lint "$m"
done

# The benchmark helpers are modules of their own outside go.work.
while IFS= read -r gomod; do
  dir=$(dirname "$gomod")
  case " ${modules[*]} " in
    *" $dir "*) continue ;;
  esac
  run_lint "$dir" GOWORK=off
done < <(find "$root/scripts/bench" -name go.mod | sort)

if [ "$status" -ne 0 ]; then
  echo "golangci-lint: findings above" >&2
fi

# golangci-lint's dupl sees one module at a time; this sees the services and
# pkg together, so a block copied from one service to another (non-test
# code) is found too. Pinned; GOWORK=off: the tool is not the workspace's.
dupl=github.com/golangci/dupl@v0.0.0-20260401084720-c99c5cf5c202
echo "== dupl across modules"
if ! found=$(find authserver resourceserver webapp pkg -name '*.go' ! -name '*_test.go' |
  GOWORK=off go run "$dupl" -files -plumbing -t 100); then
  echo "dupl: did not run" >&2
  status=1
elif [ -n "$found" ]; then
  printf '%s\n' "$found"
  echo "dupl: blocks repeated across the code above; move the shared part into pkg" >&2
  status=1
fi
exit "$status"
