#!/usr/bin/env bash
# Connection-storm benchmark (issue 5): N clients connect at the same moment, each runs
# SELECT 1, stays connected a few seconds, runs SELECT 1 again and quits; against MariaDB
# (max_connections 200) directly, through HAProxy (TCP mode) and through mymux. Then mymux's
# memory per idle authenticated client. Options: bench/storm.sh --help; the clients are
# bench/storm_client.py (asyncio, one process).
# Usage: bench/storm.sh [--clients N] [options]
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
PY=/usr/bin/python3
CLIENT="$HERE/storm_client.py"

usage() {
  cat <<'EOF'
Usage: bench/storm.sh [options]

  --clients N          clients in the storm (default 1000, at most 10000)  (env STORM_CLIENTS)
  --mem-clients N      idle clients for the memory figure (default: --clients) (env STORM_MEM_CLIENTS)
  --hold SECONDS       time each client stays connected between its two SELECT 1 (default 3)
  --autocommit 0|1     0: each client sends SET autocommit=0 after login, as PyMySQL and
                       mysqlclient do by default (default 1)            (env STORM_AUTOCOMMIT)
  --pool N             mymux pool.max_per_backend (default 64)
  --db-max-conn N      MariaDB max_connections (default 200)
  --workers N          mymux worker threads (default 2)
  --handshake-timeout D  mymux limits.handshake_timeout (default 60s: the clients all run in one
                       Python process on the same machine, which is slower than the proxy)
  --targets LIST       subset of direct,haproxy,mymux,memory (default all four)
  --keep               keep the temporary directory (logs, datadir)
  -h, --help

Environment: MYMUX_BIN (default build/mymux), BENCH_RESULTS_DIR (bench/results).
EOF
}

N=${STORM_CLIENTS:-1000}
MEM_N=${STORM_MEM_CLIENTS:-}
HOLD=3
AUTOCOMMIT=${STORM_AUTOCOMMIT:-1}
POOL=64
DB_MAXCONN=200
WORKERS=2
HS_TIMEOUT=60s
TARGETS=direct,haproxy,mymux,memory
KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --clients|-n) N=$2; shift ;;
    --clients=*) N=${1#*=} ;;
    --mem-clients) MEM_N=$2; shift ;;
    --mem-clients=*) MEM_N=${1#*=} ;;
    --autocommit) AUTOCOMMIT=$2; shift ;;
    --autocommit=*) AUTOCOMMIT=${1#*=} ;;
    --hold) HOLD=$2; shift ;;
    --hold=*) HOLD=${1#*=} ;;
    --pool) POOL=$2; shift ;;
    --pool=*) POOL=${1#*=} ;;
    --db-max-conn) DB_MAXCONN=$2; shift ;;
    --db-max-conn=*) DB_MAXCONN=${1#*=} ;;
    --workers) WORKERS=$2; shift ;;
    --workers=*) WORKERS=${1#*=} ;;
    --handshake-timeout) HS_TIMEOUT=$2; shift ;;
    --handshake-timeout=*) HS_TIMEOUT=${1#*=} ;;
    --targets) TARGETS=$2; shift ;;
    --targets=*) TARGETS=${1#*=} ;;
    --keep) KEEP=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "storm.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
MEM_N=${MEM_N:-$N}
TARGETS=${TARGETS//,/ }
for t in $TARGETS; do
  case "$t" in direct|haproxy|mymux|memory) ;; *) echo "storm.sh: bad target $t" >&2; exit 2 ;; esac
done
has_target() { case " $TARGETS " in *" $1 "*) return 0 ;; esac; return 1; }
MYMUX_BIN=${MYMUX_BIN:-$ROOT/build/mymux}
RESULTS_DIR=${BENCH_RESULTS_DIR:-$HERE/results}

log() { printf '[storm %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
NOTES=()
note() { NOTES+=("$*"); log "note: $*"; }

[ "$N" -ge 1 ] 2>/dev/null || die "--clients must be a positive number"
case $AUTOCOMMIT in 0|1) ;; *) die "--autocommit must be 0 or 1" ;; esac
if [ "$N" -gt 10000 ]; then note "--clients $N capped at 10000"; N=10000; fi
[ "$MEM_N" -gt 10000 ] && MEM_N=10000

# ---------------------------------------------------------------- descriptors
# Every process started from here inherits the limit: the client process needs N
# descriptors, mymux N + pool, HAProxy 2 N, MariaDB its max_connections.
want_fd=$((2 * N + 1000))
ulimit -n "$want_fd" 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
FD=$(ulimit -n)
[ "$FD" -lt "$want_fd" ] &&
  note "open files limited to $FD (hard limit $(ulimit -Hn)); wanted $want_fd"
cap=$((FD - 300))
if [ "$N" -gt "$cap" ]; then note "clients capped at $cap by the open-files limit $FD"; N=$cap; fi
if [ "$MEM_N" -gt "$cap" ]; then MEM_N=$cap; fi
# HAProxy holds two descriptors per client (front and back)
HAP_MAXCONN=$(( (FD - 200) / 2 ))
[ "$HAP_MAXCONN" -gt "$N" ] && HAP_MAXCONN=$N
if has_target haproxy && [ "$HAP_MAXCONN" -lt "$N" ]; then
  note "HAProxy maxconn $HAP_MAXCONN < $N clients (2 descriptors per client, open-files limit $FD): the rest wait in its accept queue"
fi

# ---------------------------------------------------------------- dependencies
export PATH="$PATH:/usr/sbin:/sbin"
for c in haproxy mariadbd mariadb-install-db mariadb mariadb-admin; do
  command -v "$c" >/dev/null 2>&1 || die "$c not found (Debian packages: haproxy mariadb-server mariadb-client)"
done
[ -x "$PY" ] || die "$PY not found"

# ---------------------------------------------------------------- cleanup
WORK=$(mktemp -d /tmp/mymux-storm.XXXXXX)
DB_PID="" HAP_PID="" MYMUX_PID="" SAMPLER_PID="" SAMPLER_DB_PID="" IDLE_PID=""

stop_pid() {  # stop_pid PID [seconds before SIGKILL]
  local pid=$1 t=${2:-10} i=0
  [ -n "$pid" ] || return 0
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null && [ $i -lt $((t * 10)) ]; do sleep 0.1; i=$((i + 1)); done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  stop_pid "$IDLE_PID" 5
  stop_pid "$SAMPLER_PID" 2
  stop_pid "$SAMPLER_DB_PID" 2
  stop_pid "$MYMUX_PID" 10
  stop_pid "$HAP_PID" 5
  stop_pid "$DB_PID" 30
  if [ "$KEEP" = 1 ]; then log "logs and data kept in $WORK"
  elif [ $rc -ne 0 ]; then rm -rf "$WORK/data"; log "logs kept in $WORK"
  else rm -rf "$WORK"; fi
  exit $rc
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM

free_port() {
  "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_ready() {  # wait_ready NAME PID SECS CMD...
  local name=$1 pid=$2 secs=$3 deadline
  shift 3
  deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || { log "$name exited during startup"; return 1; }
    [ $SECONDS -lt $deadline ] || { log "$name not ready after ${secs}s"; return 1; }
    sleep 0.1
  done
}

greeting_ok() {  # greeting_ok PORT: a protocol-10 greeting (no login, nothing in the pool)
  "$PY" - "$1" <<'PYEOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=3)
b = b""
while len(b) < 5:
    c = s.recv(64)
    if not c:
        sys.exit(1)
    b += c
sys.exit(0 if b[4] == 10 else 1)
PYEOF
}

# ---------------------------------------------------------------- MariaDB
DB_PORT=$(free_port)
SOCK="$WORK/mysql.sock"
SQL=(mariadb --no-defaults --socket="$SOCK" -uroot -N -B)
log "work dir $WORK; $N clients, hold ${HOLD}s, open files $FD"
mariadb-install-db --no-defaults --user=root --datadir="$WORK/data" \
  --auth-root-authentication-method=socket --skip-test-db >"$WORK/install-db.log" 2>&1 ||
  { tail -20 "$WORK/install-db.log" >&2; die "mariadb-install-db failed"; }
# back_log as large as the kernel allows, so that MariaDB itself answers the storm (with
# 1040 beyond max_connections) rather than the kernel dropping SYNs
mariadbd --no-defaults --user=root --datadir="$WORK/data" --socket="$SOCK" \
  --port="$DB_PORT" --bind-address=127.0.0.1 --pid-file="$WORK/mariadb.pid" \
  --log-error="$WORK/mariadb.err" --skip-name-resolve --skip-log-bin \
  --max-connections="$DB_MAXCONN" --max-connect-errors=1000000000 --back-log=4096 \
  --thread-cache-size="$DB_MAXCONN" --innodb-buffer-pool-size=64M \
  --session-track-schema=OFF --session-track-state-change=OFF \
  --session-track-system-variables= --session-track-transaction-info=OFF \
  >"$WORK/mariadb.out" 2>&1 &
DB_PID=$!
wait_ready MariaDB "$DB_PID" 120 mariadb-admin --no-defaults --socket="$SOCK" -uroot ping ||
  { tail -20 "$WORK/mariadb.err" >&2; die "MariaDB did not start"; }
"${SQL[@]}" <<'EOF'
CREATE DATABASE IF NOT EXISTS test;
CREATE USER 'app'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('apppass');
GRANT ALL ON test.* TO 'app'@'%';
EOF
log "MariaDB ready on 127.0.0.1:$DB_PORT (pid $DB_PID, max_connections $DB_MAXCONN)"

threads_connected() {
  "${SQL[@]}" -e "SHOW GLOBAL STATUS LIKE 'Threads_connected'" 2>/dev/null | awk '{print $2}'
}
# Waits until MariaDB has only the connections it had before a run (+ slack).
db_quiet() {
  local deadline=$((SECONDS + 60)) v
  while :; do
    v=$(threads_connected); v=${v:-999999}
    [ "$v" -le 2 ] && return 0
    [ $SECONDS -lt $deadline ] || { log "MariaDB still has $v connections"; return 0; }
    sleep 0.2
  done
}

# Threads_connected every 0.1 s over one persistent root connection (root over the socket
# may use MariaDB's extra connection even when max_connections is reached).
sampler_start() {
  local fifo="$WORK/sampler.fifo"
  rm -f "$fifo"; mkfifo "$fifo"
  "${SQL[@]}" <"$fifo" >"$WORK/sampler.out" 2>/dev/null &
  SAMPLER_DB_PID=$!
  ( trap 'exit 0' TERM
    while :; do echo "SHOW GLOBAL STATUS LIKE 'Threads_connected';"; sleep 0.1; done ) >"$fifo" &
  SAMPLER_PID=$!
}
sampler_stop() {  # prints the peak, minus the sampler's own connection
  stop_pid "$SAMPLER_PID" 2; SAMPLER_PID=""
  stop_pid "$SAMPLER_DB_PID" 5; SAMPLER_DB_PID=""
  awk 'BEGIN{m=-1} $1=="Threads_connected" && $2>m {m=$2} END{print (m<0 ? -1 : m-1)}' \
    "$WORK/sampler.out" 2>/dev/null || echo -1
}

# ---------------------------------------------------------------- HAProxy
HAP_PORT=""
if has_target haproxy; then
  HAP_PORT=$(free_port)
  cat >"$WORK/haproxy.cfg" <<EOF
global
    maxconn $HAP_MAXCONN
    nbthread 2
defaults
    mode tcp
    timeout connect 5s
    timeout client 1h
    timeout server 1h
listen mysql
    bind 127.0.0.1:$HAP_PORT
    mode tcp
    maxconn $HAP_MAXCONN
    server db1 127.0.0.1:$DB_PORT
EOF
  haproxy -db -f "$WORK/haproxy.cfg" >"$WORK/haproxy.log" 2>&1 &
  HAP_PID=$!
  wait_ready HAProxy "$HAP_PID" 30 greeting_ok "$HAP_PORT" ||
    { cat "$WORK/haproxy.log" >&2; die "HAProxy did not start"; }
  log "HAProxy ready on 127.0.0.1:$HAP_PORT (pid $HAP_PID, maxconn $HAP_MAXCONN)"
fi

# ---------------------------------------------------------------- mymux
MYMUX_PORT="" MYMUX_STARTS=0
mymux_start() {
  [ -x "$MYMUX_BIN" ] || { log "mymux not built ($MYMUX_BIN)"; return 1; }
  MYMUX_PORT=$(free_port)
  MYMUX_STARTS=$((MYMUX_STARTS + 1))
  local cfg="$WORK/mymux-$MYMUX_STARTS.yaml" lg="$WORK/mymux-$MYMUX_STARTS.log"
  cat >"$cfg" <<EOF
listen: 127.0.0.1:$MYMUX_PORT
workers: $WORKERS
log_level: warn
users:
  - name: app
    password: apppass
backends:
  - name: db1
    address: 127.0.0.1:$DB_PORT
pool:
  max_per_backend: $POOL
limits:
  max_client_connections: $((N + 1000))
  handshake_timeout: $HS_TIMEOUT
EOF
  "$MYMUX_BIN" -c "$cfg" 2>"$lg" >/dev/null &
  MYMUX_PID=$!
  if wait_ready mymux "$MYMUX_PID" 30 greeting_ok "$MYMUX_PORT"; then
    log "mymux ready on 127.0.0.1:$MYMUX_PORT (pid $MYMUX_PID, pool $POOL, workers $WORKERS)"
    return 0
  fi
  tail -15 "$lg" >&2 || true
  stop_pid "$MYMUX_PID" 5; MYMUX_PID=""
  return 1
}

# ---------------------------------------------------------------- storm runs
RESULTS="$WORK/results.jsonl"
: >"$RESULTS"

storm_one() {  # storm_one TARGET PORT
  local target=$1 port=$2 out="$WORK/storm-$1.json" rc=0 peak
  db_quiet
  sampler_start
  log "$target: $N clients at once on port $port"
  "$PY" "$CLIENT" --port "$port" -n "$N" --hold "$HOLD" --autocommit "$AUTOCOMMIT" \
    --timeout 120 >"$out" \
    2>"$WORK/storm-$target.err" || rc=$?
  peak=$(sampler_stop)
  if [ $rc -ne 0 ] || [ ! -s "$out" ]; then
    tail -5 "$WORK/storm-$target.err" >&2
    echo "{\"target\": \"$target\", \"error\": \"client exited with $rc\", \"peak_backend\": $peak}" >>"$RESULTS"
    return 0
  fi
  "$PY" - "$out" "$target" "$peak" >>"$RESULTS" <<'PYEOF'
import json, sys
d = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
d["target"] = sys.argv[2]
d["peak_backend"] = int(sys.argv[3])
print(json.dumps(d))
PYEOF
  log "$target: $(tail -1 "$RESULTS")"
}

has_target direct && storm_one direct "$DB_PORT"
has_target haproxy && storm_one haproxy "$HAP_PORT"
if has_target mymux; then
  if mymux_start; then
    storm_one mymux "$MYMUX_PORT"
    kill -0 "$MYMUX_PID" 2>/dev/null || note "mymux died during the storm: $(tail -3 "$WORK/mymux-$MYMUX_STARTS.log")"
    stop_pid "$MYMUX_PID" 10; MYMUX_PID=""
  else
    echo '{"target": "mymux", "error": "mymux did not start"}' >>"$RESULTS"
  fi
fi

# ---------------------------------------------------------------- memory
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
MEM_JSON='{}'
if has_target memory; then
  db_quiet
  if mymux_start; then
    # warm-up: a storm of 200 clients fills the pool (up to max_per_backend connections, kept
    # idle for pool.idle_timeout) so that "before" already holds the backend side
    "$PY" "$CLIENT" --port "$MYMUX_PORT" -n 200 --hold 0 --timeout 60 >"$WORK/warmup.json" 2>&1 || true
    rss0=$(rss_kib "$MYMUX_PID")
    fifo="$WORK/idle.fifo"; rm -f "$fifo"; mkfifo "$fifo"
    "$PY" "$CLIENT" --port "$MYMUX_PORT" -n "$MEM_N" --idle --timeout 120 <"$fifo" \
      >"$WORK/idle.out" 2>"$WORK/idle.err" &
    IDLE_PID=$!
    # this shell holds the fifo open for writing; the clients quit when it is closed
    exec 7>"$fifo"
    deadline=$((SECONDS + 300))
    until grep -q '^READY' "$WORK/idle.out" 2>/dev/null; do
      kill -0 "$IDLE_PID" 2>/dev/null || break
      [ $SECONDS -lt $deadline ] || break
      sleep 0.2
    done
    ready=$(grep '^READY' "$WORK/idle.out" | sed 's/^READY //' || true)
    sessions_ok=$(printf '%s' "$ready" | "$PY" -c 'import json,sys; t=sys.stdin.read(); print(json.loads(t)["ok"] if t else 0)')
    rss1=$(rss_kib "$MYMUX_PID")
    hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$MYMUX_PID/status")
    exec 7>&-  # EOF on the clients' stdin: COM_QUIT on every connection
    i=0
    while kill -0 "$IDLE_PID" 2>/dev/null && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
    stop_pid "$IDLE_PID" 5; IDLE_PID=""
    [ "${sessions_ok:-0}" -lt "$MEM_N" ] && note "memory: only ${sessions_ok:-0} of $MEM_N idle clients logged in ($ready)"
    MEM_JSON=$("$PY" -c '
import json, sys
r0, r1, n, hwm = (int(x) for x in sys.argv[1:5])
print(json.dumps({"clients": n, "rss_before_kib": r0, "rss_after_kib": r1, "vmhwm_kib": hwm,
                  "bytes_per_client": round((r1 - r0) * 1024 / n) if n else None}))' \
      "$rss0" "$rss1" "${sessions_ok:-0}" "$hwm")
    log "memory: $MEM_JSON"
    stop_pid "$MYMUX_PID" 10; MYMUX_PID=""
  else
    note "memory: mymux did not start"
  fi
fi

# ---------------------------------------------------------------- report
mkdir -p "$RESULTS_DIR"
START_TS=$(date +%Y%m%d-%H%M%S)
OUT_JSON="$RESULTS_DIR/storm-$START_TS.json"
NOTES_TXT=$(printf '%s\n' "${NOTES[@]+"${NOTES[@]}"}")
echo
echo "mymux storm benchmark $START_TS on $(nproc) cores: $N clients at once, autocommit=$AUTOCOMMIT, SELECT 1, ${HOLD}s connected, SELECT 1, quit"
echo "MariaDB max_connections $DB_MAXCONN; HAProxy tcp mode maxconn $HAP_MAXCONN; mymux workers $WORKERS, pool max_per_backend $POOL, handshake_timeout $HS_TIMEOUT"
STORM_AC="$AUTOCOMMIT" NOTES_TXT="$NOTES_TXT" MEM_JSON="$MEM_JSON" "$PY" - "$RESULTS" "$OUT_JSON" "$N" "$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo '?')" <<'PYEOF'
import json, os, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
mem = json.loads(os.environ["MEM_JSON"] or "{}")
notes = [n for n in os.environ.get("NOTES_TXT", "").splitlines() if n]
ac = os.environ.get("STORM_AC", "1")
hdr = f"{'target':<8} {'ac':>2} {'clients':>7} {'ok':>6} {'failed':>6}  {'all served':>10} {'p50 1st':>8} {'p99 1st':>8} {'total':>7} {'peak be':>7}  failures"
print(hdr)
print("-" * len(hdr))
for r in rows:
    if "error" in r:
        print(f"{r['target']:<8} {r['error']}")
        continue
    f = ", ".join(f"{k}: {v}" for k, v in sorted(r["failures"].items(), key=lambda kv: -kv[1])) or "-"
    s = lambda v: "-" if v is None else f"{v:.2f}s"
    print(f"{r['target']:<8} {ac:>2} {r['n']:>7} {r['ok']:>6} {r['failed']:>6}  {s(r['all_served_s']):>10} "
          f"{s(r['first_select_p50_s']):>8} {s(r['first_select_p99_s']):>8} {s(r['total_s']):>7} "
          f"{r['peak_backend']:>7}  {f}")
print("ac = autocommit mode of the clients (0: SET autocommit=0 after login, the DB-API default);")
print("all served = time from the start until the last successful client had its first SELECT 1 answered;")
print("p50/p99 1st = same, percentiles; total = until the last client finished (incl. the hold);")
print("peak be = peak MariaDB Threads_connected (sampled every 0.1 s, sampler excluded)")
if mem:
    print()
    print(f"mymux memory with {mem['clients']} idle authenticated clients: VmRSS {mem['rss_before_kib']} KiB -> "
          f"{mem['rss_after_kib']} KiB (VmHWM {mem['vmhwm_kib']} KiB): "
          f"{mem['bytes_per_client']} bytes per idle client")
for n in notes:
    print("note:", n)
json.dump({"git_commit": sys.argv[4], "clients": int(sys.argv[3]), "autocommit": int(ac),
           "runs": rows, "memory": mem,
           "notes": notes}, open(sys.argv[2], "w"), indent=1)
PYEOF
echo
echo "results: $OUT_JSON"
