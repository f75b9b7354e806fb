#!/usr/bin/env bash
# Makes local stand-ins for the images of docker-compose.yml's "durable"
# profile, postgres:16-alpine and redis:7-alpine, from this machine's Debian
# packages, for a Docker engine that cannot pull them (CI reaches no
# registry). .ci/run runs it before ./scripts/compose-test.sh.
#
# Each stand-in is the package's own binaries with the shared libraries they
# load, busybox for the entry script, and what docker-compose.yml relies on:
#   redis:7-alpine      Debian's redis-server 7 and redis-cli; like the real
#                       image it serves other containers (protected mode off
#                       when started without a config file), working in /data.
#   postgres:16-alpine  Debian's PostgreSQL (15 on bookworm: the authserver
#                       needs nothing newer), run as user postgres (uid 70,
#                       as on Alpine); on an empty data directory it runs
#                       initdb with POSTGRES_USER and POSTGRES_PASSWORD and
#                       creates POSTGRES_DB, then listens on every address
#                       (password over TCP, trust on its own socket), with
#                       pg_isready and psql beside it.
# An image that is present, or pulls, is left alone. Stand-ins carry the
# label oauth2ref.standin=debian: `docker rmi` them to get the real ones.
#
# Needs root (to set the files' owners), dpkg and apt-get (for busybox), and
# the packages postgresql and redis-server, which it installs if missing.
set -euo pipefail

have() { docker image inspect "$1" >/dev/null 2>&1; }
pulls() { timeout 30 docker pull -q "$1" >/dev/null 2>&1; }

todo=()
for img in postgres:16-alpine redis:7-alpine; do
  have "$img" || pulls "$img" || todo+=("$img")
done
[ ${#todo[@]} -gt 0 ] || exit 0

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

apt_install() {
  apt-get install -y -qq "$@" >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq "$@" >/dev/null; }
}

# busybox: a static one from Debian's busybox-static, for the entry scripts.
(cd "$work" && { apt-get download busybox-static >/dev/null 2>&1 ||
  { apt-get update -qq >/dev/null && apt-get download busybox-static >/dev/null; }; })
dpkg-deb -x "$work"/busybox-static_*.deb "$work/bb"

# new_root DIR: an empty root with busybox's shell and tools, CA
# certificates, /tmp, and root in /etc/passwd.
new_root() {
  local root=$1 a
  mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/usr/local/bin"
  chmod 1777 "$root/tmp"
  cp "$work/bb/bin/busybox" "$root/bin/"
  for a in sh cat echo env ls mkdir rm chmod printf test true sleep; do ln -sf busybox "$root/bin/$a"; done
  printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
  printf 'root:x:0:\n' >"$root/etc/group"
}

# add ROOT FILE...: copies each file to the same path under ROOT, with every
# shared library it loads (ldd), symlinks followed.
add() {
  local root=$1 f lib
  shift
  for f in "$@"; do
    mkdir -p "$root$(dirname "$f")"
    cp -L "$f" "$root$f"
    while read -r lib; do
      [ -e "$root$lib" ] && continue
      mkdir -p "$root$(dirname "$lib")"
      cp -L "$lib" "$root$lib"
    done < <(ldd "$f" 2>/dev/null | grep -oE '(/[^ ]+\.so[^ ]*)' | sort -u)
  done
}

# import ROOT IMAGE CHANGES...: the root as a one-layer image.
import_root() {
  local root=$1 img=$2
  shift 2
  local changes=(-c 'LABEL oauth2ref.standin=debian')
  for c in "$@"; do changes+=(-c "$c"); done
  tar -C "$root" --numeric-owner -c . | docker import "${changes[@]}" - "$img" >/dev/null
}

make_redis() {
  command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1 || apt_install redis-server
  local root=$work/redis real
  new_root "$root"
  # Debian's redis-server is a link to redis-check-rdb; the binary picks
  # its part by the name it is started as.
  real=$(readlink -f "$(command -v redis-server)")
  add "$root" "$real" "$(command -v redis-cli)"
  ln -sf "$real" "$root/usr/local/bin/redis-server"
  ln -sf "$(command -v redis-cli)" "$root/usr/local/bin/redis-cli"
  mkdir -p "$root/data"
  cat >"$root/usr/local/bin/docker-entrypoint.sh" <<'SH'
#!/bin/sh
# Started without a config file, Redis would refuse clients from other
# containers (protected mode); the real image turns it off the same way.
if [ "$1" = redis-server ]; then
  shift
  set -- redis-server --protected-mode no "$@"
fi
exec "$@"
SH
  chmod 755 "$root/usr/local/bin/docker-entrypoint.sh"
  import_root "$root" redis:7-alpine 'ENV PATH=/usr/local/bin:/usr/bin:/bin' 'WORKDIR /data' \
    'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' 'CMD ["redis-server"]' 'EXPOSE 6379'
  echo "made stand-in redis:7-alpine ($(redis-server --version | awk '{print $3}') from Debian's redis-server)"
}

make_postgres() {
  local ver
  ver=$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -n1)
  if [ -z "$ver" ]; then
    apt_install postgresql
    ver=$(ls /usr/lib/postgresql | sort -n | tail -n1)
  fi
  local root=$work/postgres pg=/usr/lib/postgresql/$ver b m
  new_root "$root"
  for b in postgres initdb pg_ctl pg_isready psql; do add "$root" "$pg/bin/$b"; done
  # Loadable modules (PL/pgSQL, the text search dictionaries, encoding
  # conversions, ...), but not the LLVM JIT, which would pull in LLVM.
  for m in "$pg"/lib/*.so; do
    case "$m" in */llvmjit*) continue ;; esac
    add "$root" "$m"
  done
  mkdir -p "$root/usr/share/postgresql" "$root/usr/share"
  cp -a "/usr/share/postgresql/$ver" "$root/usr/share/postgresql/"
  cp -a /usr/share/zoneinfo "$root/usr/share/"
  printf 'postgres:x:70:70:postgres:/var/lib/postgresql:/bin/sh\n' >>"$root/etc/passwd"
  printf 'postgres:x:70:\n' >>"$root/etc/group"
  mkdir -p "$root/var/lib/postgresql/data" "$root/var/run/postgresql"
  chown -R 70:70 "$root/var/lib/postgresql" "$root/var/run/postgresql"
  chmod 700 "$root/var/lib/postgresql/data"
  chmod 2775 "$root/var/run/postgresql"
  cat >"$root/usr/local/bin/docker-entrypoint.sh" <<'SH'
#!/bin/sh
# The part of the real image's entry point that docker-compose.yml uses.
set -e
if [ "${1:-}" = postgres ]; then shift; fi
: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
export PGDATA=${PGDATA:-/var/lib/postgresql/data}
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  [ -n "${POSTGRES_PASSWORD:-}" ] || { echo "POSTGRES_PASSWORD is not set" >&2; exit 1; }
  printf '%s\n' "$POSTGRES_PASSWORD" >/tmp/pwfile
  initdb -D "$PGDATA" -U "$POSTGRES_USER" --pwfile=/tmp/pwfile -E UTF8 --no-locale \
    --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  rm -f /tmp/pwfile
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  if [ "$POSTGRES_DB" != postgres ]; then
    echo "CREATE DATABASE \"$POSTGRES_DB\"" | postgres --single -D "$PGDATA" postgres >/dev/null
  fi
  echo "database initialised: user $POSTGRES_USER, database $POSTGRES_DB"
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' "$@"
SH
  chmod 755 "$root/usr/local/bin/docker-entrypoint.sh"
  import_root "$root" postgres:16-alpine "ENV PATH=/usr/local/bin:$pg/bin:/usr/bin:/bin" 'ENV PGDATA=/var/lib/postgresql/data' \
    'USER postgres' 'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' 'CMD ["postgres"]' 'EXPOSE 5432' \
    'VOLUME /var/lib/postgresql/data'
  echo "made stand-in postgres:16-alpine (PostgreSQL $ver from Debian's packages)"
}

for img in "${todo[@]}"; do
  case "$img" in
    redis:*) make_redis ;;
    postgres:*) make_postgres ;;
  esac
done
