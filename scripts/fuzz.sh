#!/usr/bin/env bash
# Runs every fuzz target of every module in the workspace, one after the
# other, each for FUZZTIME (default 10s):
#   go test -run '^$' -fuzz '^FuzzName$' -fuzztime $FUZZTIME   in its package.
# A target is a `func FuzzXxx(f *testing.F)` in a _test.go file. A failing
# input is written to the package's testdata/fuzz/FuzzXxx/ (commit it: it
# becomes a regression case that plain `go test` runs); the script goes on
# with the other targets and fails at the end.
#
#   ./scripts/fuzz.sh                 every target, 10 s each
#   FUZZTIME=2m ./scripts/fuzz.sh     longer
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
fuzztime=${FUZZTIME:-10s}

# "dir name" pairs, one per fuzz target, in the workspace's modules.
targets=()
for mod in $(go list -m -f '{{.Dir}}'); do
  while IFS= read -r file; do
    while IFS= read -r name; do
      targets+=("$(dirname "$file") $name")
    done < <(sed -nE 's/^func (Fuzz[A-Za-z0-9_]*)\([A-Za-z_][A-Za-z0-9_]* \*testing\.F\).*/\1/p' "$file")
  done < <(grep -rlE --include='*_test.go' --exclude-dir=testdata --exclude-dir=vendor '^func Fuzz' "$mod" | sort)
done

if [ ${#targets[@]} -eq 0 ]; then
  echo "fuzz: no fuzz targets (func FuzzXxx(*testing.F)) in any module; nothing to run"
  exit 0
fi

echo "fuzz: ${#targets[@]} target(s), $fuzztime each"
failed=()
for t in "${targets[@]}"; do
  dir=${t% *} name=${t##* }
  rel=${dir#"$root"/}
  start=$SECONDS
  echo "== $rel $name"
  if (cd "$dir" && go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" .); then
    echo "   $name: ok ($((SECONDS - start)) s)"
  else
    echo "   $name: FAILED ($((SECONDS - start)) s); failing input under $rel/testdata/fuzz/$name/"
    failed+=("$rel $name")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: ${#failed[@]} of ${#targets[@]} target(s) failed:"
  printf '  %s\n' "${failed[@]}"
  exit 1
fi
echo "fuzz: all ${#targets[@]} target(s) passed"
