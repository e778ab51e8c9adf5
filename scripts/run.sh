#!/usr/bin/env bash
# Sets everything up and runs mymux in front of a local MariaDB:
# installs the packages, builds build/mymux, starts MariaDB in a temporary
# directory on 127.0.0.1:3307 (user app/apppass, database `test`), writes a
# config and runs mymux in the foreground on 127.0.0.1:6033.
# Ctrl-C stops mymux and MariaDB and removes the temporary directory.
#
# Environment: MYMUX_PORT (default 6033), BACKEND_PORT (default 3307), WORKERS (default 2).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
MYMUX_PORT=${MYMUX_PORT:-6033}
BACKEND_PORT=${BACKEND_PORT:-3307}
WORKERS=${WORKERS:-2}

./scripts/install-deps.sh
cmake -S "$ROOT" -B "$ROOT/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$ROOT/build" -j "$(nproc)"

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$BACKEND_PORT" "$MYMUX_PORT"; do
  if port_busy "$p"; then
    echo "run.sh: port $p on 127.0.0.1 is already in use (set BACKEND_PORT / MYMUX_PORT)" >&2
    exit 1
  fi
done

TMP=$(mktemp -d /tmp/mymux-run.XXXXXX)
SOCK="$TMP/mysqld.sock"
MARIADB_PID=""
MARIADB_READY=0

cleanup() {
  trap - EXIT INT TERM
  if [ -n "$MARIADB_PID" ] && kill -0 "$MARIADB_PID" 2>/dev/null; then
    echo "run.sh: stopping MariaDB" >&2
    # mariadbd ignores SIGTERM until it has started; its data is thrown away anyway.
    if [ "$MARIADB_READY" = 1 ]; then
      kill -TERM "$MARIADB_PID" 2>/dev/null || true
      for _ in $(seq 1 100); do kill -0 "$MARIADB_PID" 2>/dev/null || break; sleep 0.1; done
    fi
    kill -KILL "$MARIADB_PID" 2>/dev/null || true
    wait "$MARIADB_PID" 2>/dev/null || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

COMMON=(--no-defaults --user=root "--datadir=$TMP/data"
        --innodb-buffer-pool-size=128M --innodb-log-file-size=48M --skip-log-bin --skip-name-resolve)
echo "run.sh: creating a MariaDB data directory in $TMP" >&2
mariadb-install-db "${COMMON[@]}" --auth-root-authentication-method=socket --skip-test-db \
  >"$TMP/install.log" 2>&1 || { cat "$TMP/install.log" >&2; exit 1; }

# Session-state tracking is off, as on TiDB (which sends none).
mariadbd "${COMMON[@]}" --socket="$SOCK" --pid-file="$TMP/mysqld.pid" \
  --log-error="$TMP/mariadb.log" --bind-address=127.0.0.1 --port="$BACKEND_PORT" \
  --max-connections=1000 --local-infile=1 --max-allowed-packet=1G \
  --session-track-schema=OFF --session-track-state-change=OFF \
  --session-track-system-variables= --session-track-transaction-info=OFF \
  </dev/null >/dev/null 2>&1 &
MARIADB_PID=$!

for _ in $(seq 1 600); do
  if mariadb-admin --no-defaults -S "$SOCK" -uroot ping >/dev/null 2>&1; then
    MARIADB_READY=1
    break
  fi
  if ! kill -0 "$MARIADB_PID" 2>/dev/null; then
    echo "run.sh: MariaDB did not start:" >&2; cat "$TMP/mariadb.log" >&2; exit 1
  fi
  sleep 0.1
done
[ "$MARIADB_READY" = 1 ] || { echo "run.sh: MariaDB not ready after 60 s" >&2; exit 1; }
mariadb --no-defaults -S "$SOCK" -uroot <<'SQL'
DELETE FROM mysql.global_priv WHERE User = '';
CREATE USER 'app'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('apppass');
GRANT ALL PRIVILEGES ON *.* TO 'app'@'%' WITH GRANT OPTION;
CREATE DATABASE IF NOT EXISTS test;
FLUSH PRIVILEGES;
SQL
echo "run.sh: MariaDB ready on 127.0.0.1:$BACKEND_PORT (log: $TMP/mariadb.log)" >&2

cat >"$TMP/mymux.yaml" <<YAML
listen: 127.0.0.1:$MYMUX_PORT
workers: $WORKERS
log_level: info
users:
  - name: app
    password: apppass
backends:
  - name: db1
    address: 127.0.0.1:$BACKEND_PORT
pool:
  max_per_backend: 64
YAML

echo "run.sh: mymux on 127.0.0.1:$MYMUX_PORT; try:" >&2
echo "  mariadb -h127.0.0.1 -P$MYMUX_PORT -uapp -papppass test" >&2
echo "run.sh: Ctrl-C to stop" >&2
# Not exec: the EXIT trap must run to stop MariaDB after mymux ends.
status=0
"$ROOT/build/mymux" -c "$TMP/mymux.yaml" || status=$?
exit "$status"
