#!/usr/bin/env bash
# A throw-away PostgreSQL cluster on 127.0.0.1 for the test suite.
#   pg_cluster.sh start URLFILE   creates and starts a cluster in a new temporary directory,
#                                 writes its libpq URI to URLFILE and the directory to URLFILE.dir
#   pg_cluster.sh stop URLFILE    stops that cluster and removes its directory
# initdb refuses to run as root, so as root the cluster belongs to the postgres user; its
# directory lies outside the build tree, which that user may not be allowed to enter.
set -euo pipefail
cmd=$1 urlfile=$2
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
as_owner=()
[ "$(id -u)" -eq 0 ] && as_owner=(runuser -u postgres --)

case "$cmd" in
  start)
    "$0" stop "$urlfile"
    dir=$(mktemp -d /tmp/ciclo-pg.XXXXXX)
    echo "$dir" >"$urlfile.dir"
    [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
    "${as_owner[@]}" "$bin/initdb" -D "$dir/data" -U ciclo --auth=trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1
    # A free port: the kernel chooses one, then postgres takes it.
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-h 127.0.0.1 -p $port -k $dir -c max_connections=300" start >/dev/null
    "$bin/createdb" -h 127.0.0.1 -p "$port" -U ciclo ciclo_test
    echo "postgresql://ciclo@127.0.0.1:$port/ciclo_test" >"$urlfile"
    echo "PostgreSQL test cluster on 127.0.0.1:$port in $dir"
    ;;
  stop)
    [ -f "$urlfile.dir" ] || exit 0
    dir=$(cat "$urlfile.dir")
    if [ -d "$dir/data" ]; then
      "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir" "$urlfile" "$urlfile.dir"
    ;;
  *) echo "usage: $0 start|stop URLFILE" >&2; exit 2 ;;
esac
