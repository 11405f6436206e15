#!/usr/bin/env bash
# A private, throwaway PostgreSQL cluster under a directory of the project.
#
#   scripts/pg.sh start VARDIR   create (first time) and start; database "dialog"
#   scripts/pg.sh stop VARDIR    stop (fast shutdown)
#   scripts/pg.sh conninfo VARDIR
#   scripts/pg.sh status VARDIR
#
# The cluster lives in VARDIR/pg, listens only on a unix socket in
# VARDIR/pg/run (port number 54329 names the socket), and trusts local
# connections as the superuser "dialog". PostgreSQL refuses to run as root,
# so the server runs as the system user "postgres", which owns VARDIR/pg.
# dialogd and dialogctl use this cluster when no conninfo is configured
# (DIALOG_VAR names VARDIR; the build's default is <source>/var).
set -euo pipefail

cmd=${1:?usage: pg.sh start|stop|conninfo|status VARDIR}
var=${2:?usage: pg.sh $cmd VARDIR}
mkdir -p "$var"
var=$(cd "$var" && pwd)
pg="$var/pg"
data="$pg/data"
run="$pg/run"
port=54329
conninfo="host=$run port=$port user=dialog dbname=dialog"

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[[ -x "$bindir/pg_ctl" ]] || { echo "pg.sh: no PostgreSQL server installed (run scripts/bootstrap.sh)" >&2; exit 1; }

as_pg() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# Every directory above the cluster must let the server's user through.
open_path() {
  local d=$1
  while [[ "$d" != "/" ]]; do
    if [[ $(id -u) -eq 0 ]] && ! runuser -u postgres -- test -x "$d" 2>/dev/null; then
      chmod o+x "$d"
    fi
    d=$(dirname "$d")
  done
}

case "$cmd" in
start)
  if [[ ! -s "$data/PG_VERSION" ]]; then
    rm -rf "$pg"
    mkdir -p "$data" "$run"
    [[ $(id -u) -eq 0 ]] && chown -R postgres:postgres "$pg"
    open_path "$pg"
    as_pg "$bindir/initdb" -D "$data" -U dialog -A trust -E UTF8 --locale=C.UTF-8 >"$pg/initdb.log" 2>&1 \
      || { cat "$pg/initdb.log" >&2; exit 1; }
    cat >>"$data/postgresql.conf" <<CONF
listen_addresses = ''
port = $port
unix_socket_directories = '$run'
max_connections = 200
shared_buffers = 256MB
wal_buffers = 16MB
max_wal_size = 2GB
checkpoint_timeout = 15min
log_min_messages = warning
log_line_prefix = '%m [%p] '
CONF
  fi
  open_path "$pg"
  if as_pg "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    exit 0
  fi
  as_pg "$bindir/pg_ctl" -D "$data" -l "$pg/server.log" -w -t 60 start >/dev/null \
    || { tail -n 20 "$pg/server.log" >&2; exit 1; }
  if ! as_pg "$bindir/psql" -h "$run" -p $port -U dialog -d postgres -Atqc \
      "SELECT 1 FROM pg_database WHERE datname='dialog'" | grep -q 1; then
    as_pg "$bindir/createdb" -h "$run" -p $port -U dialog dialog
  fi
  ;;
stop)
  if [[ -s "$data/PG_VERSION" ]]; then
    as_pg "$bindir/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  ;;
status)
  as_pg "$bindir/pg_ctl" -D "$data" status
  ;;
conninfo)
  echo "$conninfo"
  ;;
*)
  echo "pg.sh: unknown command $cmd" >&2; exit 2;;
esac
