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

# port_of ADDR: the port of a listen address (":5001", "127.0.0.1:5001").
port_of() { echo "${1##*:}"; }
declare -A ports=(
  [authserver]=$(port_of "${AUTHSERVER_HTTP_ADDR:-:5001}")
  [resourceserver]=$(port_of "${RESOURCESERVER_HTTP_ADDR:-:5002}")
  [webapp]=$(port_of "${WEBAPP_HTTP_ADDR:-:5003}")
)

# Refuse to start over something that already listens: the services would
# fail to bind, or worse, the checks below would find the other server and
# report ours as up.
taken=()
for svc in authserver resourceserver webapp; do
  port=${ports[$svc]}
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    taken+=("$port ($svc)")
  fi
done
if [ ${#taken[@]} -gt 0 ]; then
  list=$(printf ', %s' "${taken[@]}")
  echo "cannot start: already in use on this machine: port ${list:2}." >&2
  echo "Stop what listens there (ss -ltnp shows it), or move the service with <SERVICE>_HTTP_ADDR." >&2
  exit 1
fi

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

# wait_for PORT NAME PID: until the port accepts connections (bash's
# /dev/tcp, so no curl is needed) and the service that should be listening
# there is still running, or the service has died.
wait_for() {
  local port=$1 name=$2 pid=$3
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && kill -0 "$pid" 2>/dev/null; then return 0; fi
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
  local name=$1
  "$bin/$name" &
  pids+=($!)
  wait_for "${ports[$name]}" "$name" "$!"
}

start authserver
start resourceserver
start webapp

cat <<MSG

All three services are up (logs above are JSON, one line per event):
  authserver      http://localhost:${ports[authserver]}   (metadata: /.well-known/oauth-authorization-server)
  resourceserver  http://localhost:${ports[resourceserver]}
  webapp          http://localhost:${ports[webapp]}

Try:  curl localhost:${ports[webapp]}/current_time
      curl localhost:${ports[webapp]}/epoch_time
      open http://localhost:${ports[webapp]}/ and sign in as alice / alice-password
Ctrl-C stops everything.
MSG
wait -n "${pids[@]}"
