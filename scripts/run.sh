#!/usr/bin/env bash
# Builds and starts the whole system with memory storage:
#   authserver :5001, resourceserver :5002, webapp :5003.
# Ctrl-C stops all three. Needs only Go.
#
#   ./scripts/run.sh            development config (demo client and user)
#   ./scripts/run.sh --durable  the authserver on PostgreSQL, with the expiring
#                               data in Redis (AUTHSERVER_POSTGRES_DSN and
#                               AUTHSERVER_REDIS_URL, else the loopback defaults)
#   APP_ENV=test ./scripts/run.sh
set -euo pipefail

case "${1:-}" in
  "") ;;
  --durable)
    export AUTHSERVER_STORAGE_DEFAULT=postgres
    export AUTHSERVER_STORAGE_GROUPS=codes=redis,sessions=redis,rate_limits=redis
    export AUTHSERVER_POSTGRES_DSN=${AUTHSERVER_POSTGRES_DSN:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
    export AUTHSERVER_REDIS_URL=${AUTHSERVER_REDIS_URL:-redis://127.0.0.1:6379/0}
    ;;
  *) echo "usage: $0 [--durable]" >&2; exit 2 ;;
esac

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export APP_ENV=${APP_ENV:-development}
export CONFIG_DIR=${CONFIG_DIR:-$root/configs}
bin="$root/bin"
mkdir -p "$bin"

echo "building into $bin ..."
for svc in authserver resourceserver webapp; do
  go build -o "$bin/$svc" "./$svc/cmd/$svc"
done

pids=()
stop() {
  trap - INT TERM EXIT
  if [ ${#pids[@]} -gt 0 ]; then
    echo
    echo "stopping ..."
    kill -TERM "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
  fi
}
trap stop INT TERM EXIT

# wait_for PORT NAME: until the port accepts connections (bash's /dev/tcp,
# so no curl is needed), or the service has died.
wait_for() {
  local port=$1 name=$2 pid=$3
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$name exited; see its log above" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "$name did not start on :$port" >&2
  exit 1
}

start() {
  local name=$1 port=$2
  "$bin/$name" &
  pids+=($!)
  wait_for "$port" "$name" "$!"
}

start authserver 5001
start resourceserver 5002
start webapp 5003

cat <<MSG

All three services are up (logs above are JSON, one line per event):
  authserver      http://localhost:5001   (metadata: /.well-known/oauth-authorization-server)
  resourceserver  http://localhost:5002
  webapp          http://localhost:5003

Try:  curl localhost:5003/current_time
      curl localhost:5003/epoch_time
      open http://localhost:5003/ and sign in as alice / alice-password
Ctrl-C stops everything.
MSG
wait -n "${pids[@]}"
