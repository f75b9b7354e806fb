#!/usr/bin/env bash
# Tests docker-compose.yml for real: builds and starts the containers, waits
# until every service is ready, then checks what a user would see:
#   - curl localhost:5003/current_time and /epoch_time answer the time;
#   - a headless Chromium on this machine signs in at the webapp, logs in
#     and consents at the authserver, sees the times, and signs out
#     (authserver/e2e/browserflow);
#   - signing out revoked the webapp's refresh token at the authserver (its
#     token.revoked audit event), and no service restarted or logged a
#     warning, an error or anything that is not a JSON log line.
# Then it takes everything down again (containers, network and volumes; the
# images stay, so the next run builds from cache).
#
# It runs twice: with memory storage, then with the "durable" profile
# (PostgreSQL and Redis), where it also checks that a revocation survives a
# Redis restart. The durable run needs the postgres:16-alpine and
# redis:7-alpine images; where they cannot be had it says so and is skipped.
#
# Needs a running Docker engine, docker-compose (or `docker compose`), Go,
# curl and Chromium, and ports 5001-5003 free. It runs as its own Compose
# project (COMPOSE_PROJECT_NAME, default oauth2ref-compose-test), so the
# volumes of your own `docker-compose up` are never touched.
#
#   ./scripts/compose-test.sh            both runs
#   ./scripts/compose-test.sh memory     only the memory run
#   ./scripts/compose-test.sh durable    only the durable run
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

runs=${1:-all}
case "$runs" in all | memory | durable) ;; *) echo "usage: $0 [memory|durable]" >&2; exit 2 ;; esac

export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-oauth2ref-compose-test}
services=(authserver resourceserver webapp)
durable_images=(postgres:16-alpine redis:7-alpine)
web=http://localhost:5003
auth=http://localhost:5001

t0=$SECONDS
say() { printf '[compose-test %3ds] %s\n' $((SECONDS - t0)) "$*"; }
fail() { say "FAIL: $*" >&2; exit 1; }

# --- what it needs -----------------------------------------------------------

if docker-compose version >/dev/null 2>&1; then
  compose() { docker-compose "$@"; }
elif docker compose version >/dev/null 2>&1; then
  compose() { docker compose "$@"; }
else
  fail "neither docker-compose nor the docker compose plugin is installed"
fi
docker info >/dev/null 2>&1 || fail "no Docker engine answers (start dockerd)"
for tool in go curl; do command -v "$tool" >/dev/null || fail "$tool is not installed"; done

tmp=$(mktemp -d)
up=""
teardown() {
  local rc=$?
  if [ -n "$up" ]; then
    if [ "$rc" != 0 ]; then
      say "the services' last log lines:" >&2
      compose --profile durable logs --no-color --tail=40 >&2 || true
    fi
    say "taking the containers down"
    compose --profile durable down -v --remove-orphans >"$tmp/down.log" 2>&1 || cat "$tmp/down.log" >&2
  fi
  rm -rf "$tmp"
  exit $rc
}
trap teardown EXIT
trap 'exit 130' INT TERM

compose config -q || fail "docker-compose.yml is not valid"

# The browser driver is built before anything starts, so a compile error
# shows up at once and not after the image builds.
go build -o "$tmp/browserflow" ./authserver/e2e/browserflow

# --- the checks --------------------------------------------------------------

# ports_free: nothing listens on 5001-5003. A port already taken would stop
# a container from starting or, worse, have us test someone else's server.
ports_free() {
  local port taken=()
  for port in 5001 5002 5003; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then taken+=("$port"); fi
  done
  [ ${#taken[@]} -eq 0 ] || fail "port(s) ${taken[*]} already in use on 127.0.0.1; stop what listens there (ss -ltnp)"
}

# wait_ready: every service's /readyz answers 200.
wait_ready() {
  local port
  for port in 5001 5002 5003; do
    for _ in $(seq 1 180); do
      curl -fsS -o /dev/null --max-time 2 "http://localhost:$port/readyz" 2>/dev/null && continue 2
      sleep 0.5
    done
    compose ps >&2 || true
    compose logs --no-color --tail=30 >&2 || true
    fail "the service on :$port is not ready after 90 s"
  done
}

# expect_json URL REGEX: the body of a 200 answer matches REGEX.
expect_json() {
  local body
  body=$(curl -fsS --max-time 10 "$1") || fail "GET $1 failed"
  [[ $body =~ $2 ]] || fail "GET $1 answered $body"
  say "GET $1 -> $body"
}

# check_logs: each service's whole log is JSON lines at debug or info, and
# no container restarted. Prints every other line.
check_logs() {
  local svc id bad=0 restarts
  for svc in "${services[@]}"; do
    id=$(compose ps -q "$svc")
    [ -n "$id" ] || fail "no container for $svc"
    docker logs "$id" >"$tmp/$svc.log" 2>&1
    restarts=$(docker inspect -f '{{.RestartCount}}' "$id")
    if [ "$restarts" != 0 ]; then
      say "$svc restarted $restarts time(s)" >&2
      bad=1
    fi
    if grep -vE '^\{.*"level":"(debug|info)"' "$tmp/$svc.log" | grep -v '^[[:space:]]*$' >"$tmp/$svc.bad"; then
      say "$svc logged warnings, errors or non-JSON lines:" >&2
      sed "s/^/    $svc: /" "$tmp/$svc.bad" >&2
      bad=1
    fi
  done
  [ "$bad" = 0 ] || fail "see the log lines above"
  say "no warning or error in the logs of ${services[*]}; no restarts"
}

# revoked_in_log: the authserver's log holds the audit event of the webapp
# revoking a refresh token (memory storage keeps audit events in the log).
revoked_in_log() {
  grep '"msg":"audit"' "$tmp/authserver.log" | grep '"event":"token.revoked"' | grep '"client_id":"webapp-browser"' |
    grep '"outcome":"success"' | grep -q '"detail":"refresh_token"' ||
    fail "the authserver logged no successful revocation of the webapp's refresh token"
  say "the authserver revoked the webapp's refresh token (audit event token.revoked in its log)"
}

# revoked_in_db: the same event in PostgreSQL's audit_log table, where the
# durable setup keeps audit events (written in batches, so wait a little).
revoked_in_db() {
  local n
  for _ in $(seq 1 20); do
    n=$(compose exec -T postgres psql -U authserver -d authserver -tAc \
      "SELECT count(*) FROM audit_log WHERE event_type = 'token.revoked' AND client_id = 'webapp-browser' AND outcome = 'success' AND detail = 'refresh_token'" 2>/dev/null || true)
    [ "${n:-0}" -gt 0 ] 2>/dev/null && {
      say "the authserver revoked the webapp's refresh token (audit event token.revoked in PostgreSQL)"
      return
    }
    sleep 0.5
  done
  fail "PostgreSQL's audit_log holds no successful revocation of the webapp's refresh token"
}

# revocation_survives_redis_restart: revoke an access token, restart Redis,
# and the token must still be inactive (Redis keeps revocations in the
# durable setup; without its append-only file they would be lost).
revocation_survives_redis_restart() {
  local token state
  token=$(curl -fsS -u service:9c1a5b7e0f3d4a2b8e6c1d0f7a3b5c9e -d grant_type=client_credentials "$auth/oauth/token" |
    sed -E 's/.*"access_token":"([^"]+)".*/\1/')
  [ -n "$token" ] || fail "no client_credentials token"
  curl -fsS -o /dev/null -u service:9c1a5b7e0f3d4a2b8e6c1d0f7a3b5c9e -d token="$token" -d token_type_hint=access_token "$auth/oauth/revoke" ||
    fail "revocation refused"
  # appendfsync everysec: give the write its second before the restart.
  sleep 1.5
  compose restart redis >/dev/null 2>&1 || fail "could not restart Redis"
  for _ in $(seq 1 60); do
    compose exec -T redis redis-cli ping 2>/dev/null | grep -q PONG && break
    sleep 0.5
  done
  wait_ready
  state=$(curl -fsS -u resourceserver:resourceserver-secret -d token="$token" "$auth/oauth/introspect") ||
    fail "introspection failed after the Redis restart"
  [ "$state" = '{"active":false}' ] || fail "after a Redis restart the revoked token introspects as $state"
  say "a revoked access token stays revoked across a Redis restart"
}

# one_run NAME [COMPOSE_ARGS...]: the whole check on one setup.
one_run() {
  local name=$1 t
  shift
  say "== $name: docker-compose${*:+ $*} build"
  t=$SECONDS
  compose "$@" build >"$tmp/build.log" 2>&1 || { tail -n 60 "$tmp/build.log" >&2; fail "docker-compose build failed"; }
  say "images built in $((SECONDS - t)) s"
  ports_free
  say "docker-compose${*:+ $*} up --build -d"
  t=$SECONDS
  up=1
  compose "$@" up --build -d >"$tmp/up.log" 2>&1 || { cat "$tmp/up.log" >&2; fail "docker-compose up failed"; }
  say "started in $((SECONDS - t)) s"
  wait_ready
  say "all three services ready"

  expect_json "$web/current_time" '^\{"current_time":"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}(\.[0-9]+)?Z"\}$'
  expect_json "$web/epoch_time" '^\{"epoch_time":[0-9]{10}\}$'

  say "browser: sign in and sign out through the containers"
  "$tmp/browserflow" -webapp "$web" -authserver "$auth" || fail "the browser flow failed"

  if [ "$name" = durable ]; then
    revoked_in_db
    revocation_survives_redis_restart
  fi

  # Stopping (SIGTERM) lets each service finish and flush its log, and the
  # shutdown itself must not complain either.
  compose "$@" stop >/dev/null 2>&1 || fail "docker-compose stop failed"
  check_logs
  [ "$name" = durable ] || revoked_in_log
  compose "$@" down -v --remove-orphans >"$tmp/down.log" 2>&1 || { cat "$tmp/down.log" >&2; fail "docker-compose down failed"; }
  up=""
  say "== $name: passed"
}

# have_image IMAGE: present, or pulled within a short time.
have_image() {
  docker image inspect "$1" >/dev/null 2>&1 || timeout 30 docker pull -q "$1" >/dev/null 2>&1
}

if [ "$runs" != durable ]; then
  export AUTHSERVER_STORAGE_DEFAULT=memory AUTHSERVER_STORAGE_GROUPS=""
  one_run memory
fi

if [ "$runs" != memory ]; then
  missing=()
  for img in "${durable_images[@]}"; do have_image "$img" || missing+=("$img"); done
  if [ ${#missing[@]} -gt 0 ]; then
    say "durable profile skipped: ${missing[*]} cannot be pulled here and is not present locally"
  else
    export AUTHSERVER_STORAGE_DEFAULT=postgres
    export AUTHSERVER_STORAGE_GROUPS=codes=redis,sessions=redis,revocations=redis,rate_limits=redis
    one_run durable --profile durable
  fi
fi
say "passed"
