#!/usr/bin/env bash
# Load benchmark of the three services, next to a speed-of-light baseline
# (scripts/bench/baseline: bare net/http doing the same form parsing, secret
# check and ES256 work as the authserver's two hot endpoints).
#
#   ./scripts/bench.sh [--storage memory|postgres] [--duration 10s] [--out FILE.json] [--memory]
#
# Default: the throughput scenarios, each wrk --latency after a 2 s warm-up
# (about 3 minutes). --memory runs the memory scenario instead: 1,000,000
# client_credentials tokens and 100,000 refresh tokens through the
# authserver, with its RSS before, at peak and after (about 3-4 minutes).
#
# Needs Go; installs wrk from Debian's packages if it is missing. Builds into
# scripts/.bench/bin; service logs, wrk outputs and results go to
# scripts/.bench/. Prints a Markdown table, writes the same data as JSON to
# --out (default scripts/.bench/results.json), and exits non-zero if any
# scenario had a non-2xx answer, a socket error or a timeout.
#
# Every scenario comes from one address and most from one client, far above
# the default request rate limits (1,000 a second per source and per
# client), so the authserver runs with limits of 1,000,000 a second: the
# limiter does all its work on every request and refuses none.
#
# Environment: BENCH_POSTGRES_DSN (for --storage postgres), BENCH_FRESH_TOKENS
# (most tokens to pre-mint for introspect_fresh, default 200000) and
# BENCH_MINT_SECONDS (longest to spend minting them, default 20).
set -euo pipefail

usage() { sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0"; }
die() { echo "bench: $*" >&2; exit 1; }

root=$(cd "$(dirname "$0")/.." && pwd)
work="$root/scripts/.bench"
bin="$work/bin"
lua="$root/scripts/bench/wrk/bench.lua"

storage=memory
duration=10s
out="$work/results.json"
memory=0
while [ $# -gt 0 ]; do
  case $1 in
    --storage) [ $# -ge 2 ] || die "--storage needs a value"; storage=$2; shift 2 ;;
    --storage=*) storage=${1#*=}; shift ;;
    --duration) [ $# -ge 2 ] || die "--duration needs a value"; duration=$2; shift 2 ;;
    --duration=*) duration=${1#*=}; shift ;;
    --out) [ $# -ge 2 ] || die "--out needs a value"; out=$2; shift 2 ;;
    --out=*) out=${1#*=}; shift ;;
    --memory) memory=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
case $storage in memory | postgres) ;; *) die "--storage must be memory or postgres, not '$storage'" ;; esac
[[ $duration =~ ^[0-9]+[smh]?$ ]] || die "--duration must look like 10s, 1m (wrk's format), not '$duration'"
pg_dsn=${BENCH_POSTGRES_DSN:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
fresh_tokens=${BENCH_FRESH_TOKENS:-200000}
mint_seconds=${BENCH_MINT_SECONDS:-20}

# The development fixtures' credentials (configs/fixtures/demo.json) and the
# test-only refresher client (authserver/testdata/extra-clients.yaml).
service_secret=9c1a5b7e0f3d4a2b8e6c1d0f7a3b5c9e
rs_secret=resourceserver-secret
refresher_secret=refresher-secret-0123456789abcdef0123456789

as_url=http://127.0.0.1:5001
rs_url=http://127.0.0.1:5002
web_url=http://127.0.0.1:5003
base_url=http://127.0.0.1:5101

clk_tck=$(getconf CLK_TCK)

mkdir -p "$work" "$bin"
results="$work/results.jsonl"
: >"$results"

pids=()
declare -A pid_of=()
datadir=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ ${#pids[@]} -gt 0 ]; then
    kill -TERM "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
  fi
  if [ -n "$datadir" ]; then rm -rf "$datadir"; fi
  rm -f "$work"/tokens.*.txt # ~100 MB each; made anew every run
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ensure_wrk() {
  if command -v wrk >/dev/null 2>&1; then return 0; fi
  command -v apt-get >/dev/null 2>&1 || die "wrk is missing and there is no apt-get; install wrk yourself"
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "wrk is missing, and without root or sudo I cannot install it: apt-get install wrk"
    sudo=(sudo)
  fi
  echo "wrk is missing: installing it from Debian's packages (log: $work/apt.log) ..."
  local apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get)
  if ! "${apt[@]}" install -y wrk >"$work/apt.log" 2>&1; then
    { "${apt[@]}" update && "${apt[@]}" install -y wrk; } >>"$work/apt.log" 2>&1 ||
      die "could not install wrk; see $work/apt.log"
  fi
  command -v wrk >/dev/null 2>&1 || die "wrk still not found after installing it"
}

build() {
  echo "building into $bin ..."
  local svc
  for svc in authserver resourceserver webapp; do
    (cd "$root" && go build -o "$bin/$svc" "./$svc/cmd/$svc")
  done
  # The benchmark's own helpers and the baseline are modules of their own,
  # outside go.work.
  (cd "$root/scripts/bench" && GOWORK=off go build -o "$bin/" ./mint ./report)
  (cd "$root/scripts/bench/baseline" && GOWORK=off go build -o "$bin/baseline" .)
}

b64() { printf '%s' "$1" | base64 | tr -d '\n'; }

# json_str S: S as a JSON string.
json_str() {
  local s=${1//\\/\\\\}
  s=${s//\"/\\\"}
  printf '"%s"' "$s"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

healthy() {
  local port=$1
  if command -v curl >/dev/null 2>&1; then
    curl -fsS -m 2 -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null
    return
  fi
  (
    exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
    printf 'GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
    IFS= read -r -t 2 status <&3 || exit 1
    [[ $status == "HTTP/1."?" 200"* ]]
  ) 2>/dev/null
}

# http_get PORT PATH: the body of a GET to 127.0.0.1:PORT (curl, else bash's
# /dev/tcp), or nothing.
http_get() {
  if command -v curl >/dev/null 2>&1; then
    curl -fsS -m 5 "http://127.0.0.1:$1$2" 2>/dev/null
    return 0
  fi
  (
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 0
    printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&3
    sed '1,/^\r\{0,1\}$/d' <&3
  ) 2>/dev/null
}

# go_heap: the authserver's Go heap from its /metrics, as JSON. The live heap
# at the last GC is about next_gc / (1 + GOGC/100).
go_heap() {
  http_get 5001 /metrics | awk '
    /^go_memstats_heap_alloc_bytes / { a = $2 }
    /^go_memstats_next_gc_bytes / { n = $2 }
    /^go_gc_gogc_percent / { g = $2 }
    END { printf "{\"heap_alloc_bytes\":%.0f,\"next_gc_bytes\":%.0f,\"gogc\":%.0f}", a, n, g }'
}

# start NAME PORT COMMAND...: starts COMMAND with its output in
# scripts/.bench/NAME.log and waits for /healthz. Returns 1 if the process
# exits or does not get healthy within 15 s.
start() {
  local name=$1 port=$2 pid
  shift 2
  if port_open "$port"; then
    die "port $port is already in use (is ./scripts/run.sh running?); stop it first"
  fi
  "$@" >"$work/$name.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  pid_of[$name]=$pid
  for _ in $(seq 1 150); do
    # Healthy, and the listener is this process's (not a leftover's).
    if healthy "$port" && has_socket "$pid" local "$port" 0A; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "bench: $name exited during start; the end of $work/$name.log:" >&2
      tail -n 5 "$work/$name.log" | sed 's/^/    /' >&2
      return 1
    fi
    sleep 0.1
  done
  echo "bench: $name did not answer /healthz on :$port within 15 s" >&2
  return 1
}

# has_socket PID local|remote PORT STATE: whether PID owns a TCP socket whose
# local or remote port is PORT, in STATE (01 established, 0A listening), from
# its socket fds and /proc/PID/net/tcp*.
has_socket() {
  local pid=$1 field=3 port state=$4 fd link inodes=""
  if [ "$2" = local ]; then field=2; fi
  port=$(printf '%04X' "$3")
  for fd in /proc/"$pid"/fd/*; do
    link=$(readlink "$fd" 2>/dev/null) || continue
    if [[ $link =~ ^socket:\[([0-9]+)\]$ ]]; then inodes+="${BASH_REMATCH[1]} "; fi
  done
  [ -n "$inodes" ] || return 1
  awk -v field="$field" -v port="$port" -v state="$state" -v inodes="$inodes" '
    BEGIN { n = split(inodes, a, " "); for (i = 1; i <= n; i++) want[a[i]] = 1 }
    FNR > 1 { split($field, p, ":"); if (p[2] == port && $4 == state && ($10 in want)) found = 1 }
    END { exit !found }' /proc/"$pid"/net/tcp /proc/"$pid"/net/tcp6 2>/dev/null
}

start_authserver() {
  datadir=$(mktemp -d)
  local env=(env APP_ENV=development "CONFIG_DIR=$root/configs" "AUTHSERVER_DATA_DIR=$datadir"
    AUTHSERVER_RATE_LIMITS_SOURCE_RPS=1000000 AUTHSERVER_RATE_LIMITS_SOURCE_BURST=2000000
    AUTHSERVER_RATE_LIMITS_CLIENT_RPS=1000000 AUTHSERVER_RATE_LIMITS_CLIENT_BURST=2000000)
  if [ "$memory" = 1 ]; then
    env+=("AUTHSERVER_FIXTURES=fixtures/demo.json,$root/authserver/testdata/extra-clients.yaml")
  fi
  if [ "$storage" = postgres ]; then
    env+=(AUTHSERVER_STORAGE_DEFAULT=postgres "AUTHSERVER_POSTGRES_DSN=$pg_dsn")
  fi
  if ! start authserver 5001 "${env[@]}" "$bin/authserver"; then
    [ "$storage" = postgres ] &&
      die "the authserver does not start with AUTHSERVER_STORAGE_DEFAULT=postgres ($pg_dsn); no PostgreSQL numbers"
    die "the authserver did not start"
  fi
  if [ "$storage" = postgres ]; then
    # A successful start proves nothing: an authserver without a postgres
    # backend ignores the unknown settings and runs on memory. Ask for
    # /readyz (which pings storage), then require a connection to the
    # database's port.
    local pg_port=5432
    if [[ $pg_dsn =~ ^postgres(ql)?://[^/]*:([0-9]+)(/|$|\?) ]]; then pg_port=${BASH_REMATCH[2]}; fi
    curl -fsS -m 5 -o /dev/null "$as_url/readyz" 2>/dev/null || true
    if ! has_socket "${pid_of[authserver]}" remote "$pg_port" 01; then
      die "the authserver started, but holds no connection to PostgreSQL (port $pg_port of $pg_dsn): it ignored AUTHSERVER_STORAGE_DEFAULT=postgres and runs on memory storage. This build has no postgres backend; refusing to report memory numbers as postgres."
    fi
  fi
}

wrk_failed() {
  kill -0 "${pid_of[$2]}" 2>/dev/null || die "$2 died during $1; see $work/$2.log"
  die "$1: wrk failed: $(tail -n 3 "$3")"
}

# server_ticks: CPU time (user+system, in clock ticks) of every process we
# started, as "name=ticks" words.
server_ticks() {
  local name
  for name in "${!pid_of[@]}"; do
    printf '%s=%s ' "$name" "$(awk '{ print $14 + $15 }' "/proc/${pid_of[$name]}/stat" 2>/dev/null || echo 0)"
  done
}

# busy_ticks: the machine's busy CPU time (all CPUs, clock ticks) from /proc/stat.
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }

# cpu_json BEFORE AFTER: the per-process difference of two server_ticks as a
# JSON object.
cpu_json() {
  local -A was=()
  local kv out=""
  for kv in $1; do was[${kv%%=*}]=${kv#*=}; done
  for kv in $2; do out+="\"${kv%%=*}\":$((${kv#*=} - ${was[${kv%%=*}]:-0})),"; done
  printf '{%s}' "${out%,}"
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

# run NAME SERVER URL THREADS CONNECTIONS TIMEOUT BASELINE NOTE [VAR=VALUE...] -- [WRK ARGS...]
# runs wrk twice (2 s warm-up, then --duration) with bench.lua and the given
# environment, and appends the measured run to the results.
run() {
  local name=$1 server=$2 url=$3 threads=$4 conns=$5 timeout=$6 baseline=$7 note=$8
  shift 8
  local envs=() distinct=0
  while [ $# -gt 0 ] && [ "$1" != -- ]; do
    envs+=("$1")
    if [[ $1 == BENCH_TOKENS=* ]]; then distinct=$(wc -l <"${1#BENCH_TOKENS=}"); fi
    shift
  done
  if [ $# -gt 0 ]; then shift; fi
  local pid=${pid_of[$server]}
  local args=(-t"$threads" -c"$conns" --timeout "$timeout" --latency -s "$lua" "$@" "$url")
  echo "== $name: wrk -t$threads -c$conns -d$duration --timeout $timeout --latency $url"

  local before warm skip after json
  before=$(rss_kb "$pid")
  env "${envs[@]}" BENCH_THREADS="$threads" BENCH_SKIP=0 wrk -d2s "${args[@]}" >"$work/$name.warmup.txt" 2>&1 ||
    wrk_failed "$name" "$server" "$work/$name.warmup.txt"
  warm=$(sed -n 's/^BENCHJSON .*"requests":\([0-9]*\).*/\1/p' "$work/$name.warmup.txt")
  # With a token list, the measured run starts past the tokens the warm-up
  # used (per thread, plus what was in flight).
  skip=$(((${warm:-0} + threads - 1) / threads + conns))
  local ticks_before busy_before ticks_after busy_after wrk_cpu TIMEFORMAT='%3U %3S'
  ticks_before=$(server_ticks)
  busy_before=$(busy_ticks)
  { time env "${envs[@]}" BENCH_THREADS="$threads" BENCH_SKIP="$skip" wrk -d"$duration" "${args[@]}" >"$work/$name.txt" 2>&1; } 2>"$work/$name.time" ||
    wrk_failed "$name" "$server" "$work/$name.txt"
  busy_after=$(busy_ticks)
  ticks_after=$(server_ticks)
  wrk_cpu=$(awk '{ print $1 + $2 }' "$work/$name.time")
  after=$(rss_kb "$pid")
  kill -0 "$pid" 2>/dev/null || die "$server died during $name; see $work/$server.log"
  json=$(sed -n 's/^BENCHJSON //p' "$work/$name.txt")
  [ -n "$json" ] || die "$name: no BENCHJSON line in $work/$name.txt"
  grep -E 'Requests/sec|Non-2xx|Socket errors' "$work/$name.txt" | sed 's/^ */    /' || true
  printf '{"kind":"wrk","scenario":%s,"server":%s,"url":%s,"threads":%d,"connections":%d,"duration":%s,"timeout":%s,"baseline":%s,"note":%s,"rss_before_kb":%d,"rss_after_kb":%d,"distinct_tokens":%d,"warmup_requests":%d,"cpu":{"clk_tck":%d,"cpus":%d,"servers":%s,"machine_busy":%d,"wrk_seconds":%s},"wrk":%s}\n' \
    "$(json_str "$name")" "$(json_str "$server")" "$(json_str "$url")" "$threads" "$conns" \
    "$(json_str "$duration")" "$(json_str "$timeout")" "$(json_str "$baseline")" "$(json_str "$note")" \
    "${before:-0}" "${after:-0}" "$distinct" "${warm:-0}" \
    "$clk_tck" "$(nproc)" "$(cpu_json "$ticks_before" "$ticks_after")" "$((busy_after - busy_before))" "${wrk_cpu:-0}" \
    "$json" >>"$results"
}

# mint_tokens URL FILE N MAX_SECONDS: client_credentials tokens for "service".
mint_tokens() {
  echo "-- minting up to $3 client_credentials tokens at $1 (at most $4 s) ..."
  "$bin/mint" -url "$1" -client service -secret "$service_secret" -n "$3" -c 64 \
    -max-time "${4}s" -out "$2" >"$2.json" || die "minting tokens at $1 failed: $(cat "$2.json")"
  [ -s "$2" ] || die "no tokens minted at $1"
  echo "   $(wc -l <"$2") tokens"
}

table_order=token_client_credentials,token_password,token_refresh,introspect_fresh,introspect_same,resource_current_time,webapp_current_time_c1,webapp_current_time_c16,baseline_token,baseline_introspect

# Each baseline runs right after the scenario it is compared with, so that
# drift in the machine's load touches both alike; the table keeps the
# scenarios' fixed order.
throughput() {
  local form=(-H "Content-Type: application/x-www-form-urlencoded")
  local service=(-H "Authorization: Basic $(b64 "service:$service_secret")")
  local rs=(-H "Authorization: Basic $(b64 "resourceserver:$rs_secret")")
  local webclient=(-H "Authorization: Basic $(b64 "1234:qwerty")")
  local active='BENCH_EXPECT="active":true'

  run token_client_credentials authserver "$as_url/oauth/token" 2 64 2s baseline_token \
    "client_credentials for service (HMAC-SHA256 secret), one ES256 JWT per request." \
    BENCH_METHOD=POST BENCH_BODY=grant_type=client_credentials -- "${form[@]}" "${service[@]}"

  run baseline_token baseline "$base_url/oauth/token" 2 64 2s "" \
    "scripts/bench/baseline: bare net/http, same form parsing, HMAC-SHA256 secret check and ES256 signing, nothing else." \
    BENCH_METHOD=POST BENCH_BODY=grant_type=client_credentials -- "${form[@]}" "${service[@]}"

  run token_password authserver "$as_url/oauth/token" 2 8 10s "" \
    "wrk -c8 --timeout 10s on purpose: every request is an argon2id of alice's password (~20 ms, at most one per core at once in the authserver), so more connections only queue into timeouts. Client 1234's own argon2id secret is answered from the verified-secret cache." \
    BENCH_METHOD=POST "BENCH_BODY=grant_type=password&username=alice&password=alice-password" -- "${form[@]}" "${webclient[@]}"

  echo "-- minting 512 refresh tokens by the code flow (one login, consent remembered) ..."
  "$bin/mint" -url "$as_url/oauth/token" -client webapp-browser -secret webapp-browser-secret -start code \
    -chains 512 -rotations 0 -c 8 -password-c 8 -out "$work/refresh.seeds.txt" >"$work/refresh.seeds.json" ||
    die "minting refresh tokens failed: $(cat "$work/refresh.seeds.json")"
  local browser=(-H "Authorization: Basic $(b64 "webapp-browser:webapp-browser-secret")")
  run token_refresh authserver "$as_url/oauth/token" 2 64 2s "" \
    "the refresh_token grant for webapp-browser: 256 chains, each answer's new refresh token sent next (rotation: each token once), every answer must carry a refresh_token. Each request rotates in one transaction of the refresh token store." \
    BENCH_METHOD=POST "BENCH_REFRESH=$work/refresh.seeds.txt" -- "${form[@]}" "${browser[@]}"

  mint_tokens "$as_url/oauth/token" "$work/tokens.authserver.txt" "$fresh_tokens" "$mint_seconds"
  mint_tokens "$base_url/oauth/token" "$work/tokens.baseline.txt" "$fresh_tokens" "$mint_seconds"
  run introspect_fresh authserver "$as_url/oauth/introspect" 2 64 2s baseline_introspect \
    "a different pre-minted client_credentials token on every request, so the authserver's verified-token cache (10,000 entries) cannot answer and each request pays an ES256 verification; every 2xx answer must say \"active\":true." \
    BENCH_METHOD=POST "BENCH_TOKENS=$work/tokens.authserver.txt" "$active" -- "${form[@]}" "${rs[@]}"

  run baseline_introspect baseline "$base_url/oauth/introspect" 2 64 2s "" \
    "as introspect_fresh, with tokens minted by the baseline's own token endpoint (its key is made at start); the baseline has no cache." \
    BENCH_METHOD=POST "BENCH_TOKENS=$work/tokens.baseline.txt" "$active" -- "${form[@]}" "${rs[@]}"

  "$bin/mint" -url "$as_url/oauth/token" -secret "$service_secret" -n 1 -c 1 -out "$work/token.one.txt" >/dev/null ||
    die "could not mint a token"
  local one
  one=$(head -n 1 "$work/token.one.txt")
  printf '%s\n' "$one" >"$work/token.same.txt"
  run introspect_same authserver "$as_url/oauth/introspect" 2 64 2s "" \
    "one client_credentials token (5 min lifetime) for every request, the resource-server pattern: after the first call the verified-token cache answers instead of ES256." \
    BENCH_METHOD=POST "BENCH_TOKENS=$work/token.same.txt" "$active" -- "${form[@]}" "${rs[@]}"

  run resource_current_time resourceserver "$rs_url/current_time" 2 64 2s "" \
    "GET with one Bearer client_credentials token; every call introspects at the authserver (RSS is the resource server's)." \
    -- -H "Authorization: Bearer $one"

  run webapp_current_time_c1 webapp "$web_url/current_time" 1 1 2s "" \
    "one call at a time: password grant (argon2id) + resource call + introspection (RSS is the webapp's)." \
    --

  run webapp_current_time_c16 webapp "$web_url/current_time" 2 16 2s "" \
    "16 at once: bounded by the authserver's argon2id (one per core at a time)." \
    --

}

# memory_phase NAME NOTE MINT-ARGS...: one mint run against the authserver,
# sampling its RSS.
memory_phase() {
  local name=$1 note=$2 json rc=0 heap_before heap_after
  shift 2
  echo "== $name"
  heap_before=$(go_heap)
  json=$("$bin/mint" -url "$as_url/oauth/token" -pid "${pid_of[authserver]}" "$@") || rc=$?
  [ -n "$json" ] || die "$name: mint printed nothing (exit $rc)"
  kill -0 "${pid_of[authserver]}" 2>/dev/null || die "the authserver died during $name; see $work/authserver.log"
  heap_after=$(go_heap)
  printf '    %s\n' "$json"
  printf '{"kind":"memory","scenario":%s,"server":"authserver","note":%s,"heap_before":%s,"heap_after":%s,"mint":%s}\n' \
    "$(json_str "$name")" "$(json_str "$note")" "$heap_before" "$heap_after" "$json" >>"$results"
}

memory_scenario() {
  memory_phase client_credentials_1M \
    "1,000,000 client_credentials tokens for service, 64 connections (the Go client in scripts/bench/mint). Access tokens are JWTs and are not stored." \
    -client service -secret "$service_secret" -n 1000000 -c 64
  memory_phase refresh_100k \
    "client webapp-browser: one login (one argon2id), then 1,000 authorization codes (consent remembered, 8 at a time) exchanged for 1,000 refresh tokens, each rotated 100 times (64 chains at a time) = 100,000 rotations, each storing a new refresh token (101,000 stored, the rotated ones kept for reuse detection). Starting the chains by the password grant would measure 1,000 argon2ids (19 MiB each) instead of the refresh tokens: token_password's RSS column shows that cost." \
    -client webapp-browser -secret webapp-browser-secret -start code -chains 1000 -rotations 100 -c 64 -password-c 8
  echo "-- waiting 10 s for the authserver to settle ..."
  sleep 10
  printf '{"kind":"rss","scenario":"authserver after 10 s idle","server":"authserver","rss_kb":%d,"heap_after":%s}\n' \
    "$(rss_kb "${pid_of[authserver]}")" "$(go_heap)" >>"$results"
}

main() {
  ensure_wrk
  build
  echo "machine: $(nproc) CPUs, $(go version | cut -d' ' -f3), $(wrk --version 2>&1 | head -n 1 | cut -d' ' -f1-2); storage: $storage"
  export APP_ENV=development CONFIG_DIR="$root/configs"
  start_authserver
  if [ "$memory" = 1 ]; then
    memory_scenario
  else
    start resourceserver 5002 "$bin/resourceserver" || die "the resource server did not start"
    start webapp 5003 "$bin/webapp" || die "the webapp did not start"
    start baseline 5101 "$bin/baseline" -addr 127.0.0.1:5101 || die "the baseline did not start"
    throughput
  fi
  echo
  echo "wrk outputs and service logs: $work/"
  local rc=0
  "$bin/report" -in "$results" -out "$out" -storage "$storage" -order "$table_order" || rc=$?
  echo
  echo "JSON: $out"
  return "$rc"
}

main
