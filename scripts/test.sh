#!/usr/bin/env bash
# Runs every test of every module in the workspace.
#
# Integration tests that need PostgreSQL, Redis or Chromium skip with a
# one-line reason when those are missing, unless CI=true, where a missing
# server fails the run instead. Extra arguments go to `go test`
# (e.g. ./scripts/test.sh -run TestEndToEnd -v). RACE=1 adds the race
# detector (needs a C compiler).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

flags=(-count=1 -timeout 12m)
if [ "${RACE:-0}" = 1 ]; then flags+=(-race); fi

# `go test ./...` at a go.work root tests nothing useful: list each module.
mapfile -t pkgs < <(go list -m -f '{{.Dir}}/...')
go test "${flags[@]}" "$@" "${pkgs[@]}"
