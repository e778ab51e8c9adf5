#!/usr/bin/env bash
# mymux benchmark: sysbench directly against MariaDB, through HAProxy (TCP
# mode) and through mymux, all in one run, against the same backend.
# See bench/README.md.  Usage: bench/run.sh [--quick] [--many|--many-only] [options]
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
PY=/usr/bin/python3
REPORT="$HERE/sbreport.py"

usage() {
  cat <<'EOF'
Usage: bench/run.sh [options]

  --quick              smoke check: threads 1,16 and 5 s per run
  --many               also run issue 3's many-clients case (512 and 2000 threads,
                       oltp_point_select, mymux pool max_per_backend 32)
  --many-only          run only the many-clients case
  --threads LIST       client thread counts, e.g. 1,16,512   (env BENCH_THREADS)
  --time SECONDS       duration of each sysbench run         (env BENCH_TIME, 20)
  --ps-mode MODE       sysbench --db-ps-mode: auto, disable or both (env BENCH_PS_MODE, auto)
  --workloads LIST     sysbench tests (env BENCH_WORKLOADS,
                       default oltp_point_select,oltp_read_write)
  --targets LIST       subset of direct,haproxy,mymux        (env BENCH_TARGETS)
  --repeat N           runs of every point, the targets' order rotated each time; the
                       table gives medians and the spread (env BENCH_REPEAT; 3, 1 with --quick)
  --keep               keep the temporary directory (logs, datadir)
  -h, --help

Other environment: MYMUX_BIN (default build/mymux), BENCH_TABLES (4),
BENCH_TABLE_SIZE (10000), BENCH_WORKERS (2), BENCH_POOL_MAX (max per backend for
the main runs; default max(64, largest thread count)), BENCH_MANY_THREADS
("512 2000"), BENCH_MANY_POOL (32; auto: mymux's default, pool.per_cpu (8) per
CPU, the backend's cpus being this machine's), BENCH_MANY_TIME (defaults to the run time),
BENCH_MANY=1|only, BENCH_MYMUX_RESTART=0 (one mymux per section instead of a
fresh one per mymux run), BENCH_SESSION_TRACK=1 (leave MariaDB's session tracking on;
default off, as on TiDB), BENCH_MYMUX_TRACKING=auto|on|off (mymux's
backends[].session_tracking: on = its own trackers per connection, off = the
classifier alone, as for TiDB; default auto), BENCH_BUSY_POLL (mymux's busy_poll, e.g. 50us; default 0 = off), BENCH_KEEP=1,
BENCH_RESULTS_DIR (bench/results).
EOF
}

# ---------------------------------------------------------------- options
QUICK=0
MANY=${BENCH_MANY:-0}
KEEP=${BENCH_KEEP:-0}
OPT_THREADS=${BENCH_THREADS:-}
OPT_TIME=${BENCH_TIME:-}
PS_MODES=${BENCH_PS_MODE:-auto}
WORKLOADS=${BENCH_WORKLOADS:-oltp_point_select,oltp_read_write}
TARGETS=${BENCH_TARGETS:-direct,haproxy,mymux}
OPT_REPEAT=${BENCH_REPEAT:-}
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --many) [ "$MANY" = only ] || MANY=1 ;;
    --many-only) MANY=only ;;
    --threads) OPT_THREADS=$2; shift ;;
    --threads=*) OPT_THREADS=${1#*=} ;;
    --time) OPT_TIME=$2; shift ;;
    --time=*) OPT_TIME=${1#*=} ;;
    --ps-mode) PS_MODES=$2; shift ;;
    --ps-mode=*) PS_MODES=${1#*=} ;;
    --workloads) WORKLOADS=$2; shift ;;
    --workloads=*) WORKLOADS=${1#*=} ;;
    --targets) TARGETS=$2; shift ;;
    --targets=*) TARGETS=${1#*=} ;;
    --repeat) OPT_REPEAT=$2; shift ;;
    --repeat=*) OPT_REPEAT=${1#*=} ;;
    --keep) KEEP=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
if [ "$QUICK" = 1 ]; then
  THREADS=${OPT_THREADS:-1,16}
  TIME=${OPT_TIME:-5}
  REPEAT=${OPT_REPEAT:-1}
else
  THREADS=${OPT_THREADS:-1,16,512}
  TIME=${OPT_TIME:-20}
  REPEAT=${OPT_REPEAT:-3}
fi
case "$REPEAT" in ''|*[!0-9]*|0) echo "run.sh: --repeat takes a positive number" >&2; exit 2 ;; esac
case "$MANY" in 0|1|only) ;; *) MANY=1 ;; esac
THREADS=${THREADS//,/ }
WORKLOADS=${WORKLOADS//,/ }
TARGETS=${TARGETS//,/ }
PS_MODES=${PS_MODES//,/ }
[ "$PS_MODES" = both ] && PS_MODES="auto disable"
MANY_THREADS=${BENCH_MANY_THREADS:-512 2000}
MANY_THREADS=${MANY_THREADS//,/ }
MANY_POOL=${BENCH_MANY_POOL:-32}
MANY_TIME=${BENCH_MANY_TIME:-$TIME}
TABLES=${BENCH_TABLES:-4}
TABLE_SIZE=${BENCH_TABLE_SIZE:-10000}
WORKERS=${BENCH_WORKERS:-2}
MYMUX_BIN=${MYMUX_BIN:-$ROOT/build/mymux}
RESULTS_DIR=${BENCH_RESULTS_DIR:-$HERE/results}
# 1: a fresh mymux for every mymux run, so that its idle pool never counts
# in another run's backend connections; 0: one mymux per section.
MYMUX_RESTART=${BENCH_MYMUX_RESTART:-1}
MAXTHR=64
for t in $THREADS; do [ "$t" -gt "$MAXTHR" ] && MAXTHR=$t; done
# Without multiplexing (issue 2) every client session holds one backend
# connection, so the main runs get a pool as large as the client count.
POOL_MAX=${BENCH_POOL_MAX:-$MAXTHR}
for m in $PS_MODES; do
  case "$m" in auto|disable) ;; *) echo "run.sh: bad --ps-mode $m" >&2; exit 2 ;; esac
done
for t in $TARGETS; do
  case "$t" in direct|haproxy|mymux) ;; *) echo "run.sh: bad target $t" >&2; exit 2 ;; esac
done
has_target() { case " $TARGETS " in *" $1 "*) return 0 ;; esac; return 1; }
# The targets in the order of repetition REP: rotated by one each time, so that
# none always runs first (a cold cache) or last (a warm one).
targets_for() {  # targets_for REP
  local -a t=($TARGETS)
  local n=${#t[@]} i out=""
  for ((i = 0; i < n; i++)); do out+="${t[$(( (i + $1 - 1) % n ))]} "; done
  echo "$out"
}

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------- dependencies
need_cmds="sysbench haproxy mariadbd mariadb-install-db mariadb mariadb-admin"
missing=""
for c in $need_cmds; do
  command -v "$c" >/dev/null 2>&1 || [ -x "/usr/sbin/$c" ] || missing="$missing $c"
done
if [ -n "$missing" ] && [ -x "$ROOT/scripts/install-deps.sh" ]; then
  log "missing:$missing; running scripts/install-deps.sh"
  "$ROOT/scripts/install-deps.sh" || log "scripts/install-deps.sh failed"
fi
export PATH="$PATH:/usr/sbin:/sbin"
for c in $need_cmds; do
  command -v "$c" >/dev/null 2>&1 || die "$c not found (Debian packages: sysbench haproxy mariadb-server mariadb-client)"
done
[ -x "$PY" ] || die "$PY not found"

# 2000 clients need many descriptors in sysbench, HAProxy and MariaDB.
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
CLK_TCK=$(getconf CLK_TCK)

# ---------------------------------------------------------------- cleanup
WORK=$(mktemp -d /tmp/mymux-bench.XXXXXX)
DB_PID="" HAP_PID="" MYMUX_PID="" SB_PID="" SAMPLER_PID="" SAMPLER_DB_PID=""

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
  stop_pid "$SAMPLER_PID" 2
  stop_pid "$SAMPLER_DB_PID" 2
  stop_pid "$SB_PID" 5
  stop_pid "$MYMUX_PID" 10
  stop_pid "$HAP_PID" 5
  stop_pid "$DB_PID" 30
  if [ "$KEEP" = 1 ]; then
    log "logs and data kept in $WORK"
  elif [ $rc -ne 0 ]; then
    rm -rf "$WORK/data"
    log "logs kept in $WORK"
  else
    rm -rf "$WORK"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM

free_port() {
  "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Poll CHECK (a command) until it succeeds; fail if PID dies or after SECS.
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

# ---------------------------------------------------------------- MariaDB
DB_PORT=$(free_port)
SOCK="$WORK/mysql.sock"
SQL=(mariadb --no-defaults --socket="$SOCK" -uroot -N -B)
log "work dir $WORK"
log "MariaDB: installing datadir"
mariadb-install-db --no-defaults --user=root --datadir="$WORK/data" \
  --auth-root-authentication-method=socket --skip-test-db >"$WORK/install-db.log" 2>&1 ||
  { tail -20 "$WORK/install-db.log" >&2; die "mariadb-install-db failed"; }
track_opts=(--session-track-schema=OFF --session-track-state-change=OFF
            --session-track-system-variables= --session-track-transaction-info=OFF)
[ "${BENCH_SESSION_TRACK:-0}" = 1 ] && track_opts=()
mariadbd --no-defaults --user=root --datadir="$WORK/data" --socket="$SOCK" \
  --port="$DB_PORT" --bind-address=127.0.0.1 --pid-file="$WORK/mariadb.pid" \
  --log-error="$WORK/mariadb.err" --skip-name-resolve --skip-log-bin \
  --max-connections=3000 --max-connect-errors=1000000 --back-log=3000 \
  --thread-cache-size=3000 --open-files-limit=20000 --table-open-cache=4000 \
  --max-prepared-stmt-count=1048576 \
  --innodb-buffer-pool-size=512M --innodb-log-file-size=256M \
  --innodb-flush-log-at-trx-commit=2 "${track_opts[@]}" >"$WORK/mariadb.out" 2>&1 &
DB_PID=$!
wait_ready MariaDB "$DB_PID" 120 mariadb-admin --no-defaults --socket="$SOCK" -uroot ping ||
  { tail -20 "$WORK/mariadb.err" >&2; die "MariaDB did not start"; }
log "MariaDB ready on 127.0.0.1:$DB_PORT (pid $DB_PID)"
"${SQL[@]}" <<'EOF'
CREATE DATABASE sbtest;
CREATE USER 'app'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('apppass');
CREATE USER 'app'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('apppass');
GRANT ALL ON sbtest.* TO 'app'@'%';
GRANT ALL ON sbtest.* TO 'app'@'localhost';
EOF
DB_MAXCONN=$("${SQL[@]}" -e 'SELECT @@max_connections')

SB_COMMON=(--db-driver=mysql --mysql-user=app --mysql-password=apppass --mysql-db=sbtest
           --tables="$TABLES" --table-size="$TABLE_SIZE")
log "sysbench prepare: $TABLES tables x $TABLE_SIZE rows"
sysbench oltp_read_write "${SB_COMMON[@]}" --mysql-host=127.0.0.1 --mysql-port="$DB_PORT" \
  --threads="$TABLES" prepare >"$WORK/prepare.log" 2>&1 ||
  { tail -20 "$WORK/prepare.log" >&2; die "sysbench prepare failed"; }
"${SQL[@]}" -e "ANALYZE TABLE $(seq -s, -f 'sbtest.sbtest%g' 1 "$TABLES")" >/dev/null

client_ok() {  # client_ok PORT: one query through a listener
  mariadb --no-defaults -h127.0.0.1 -P"$1" -uapp -papppass --connect-timeout=3 \
    -N -B -e 'SELECT 1' sbtest
}

# mymux is checked by its greeting only (protocol version 10 handshake), so
# that no query leaves a backend connection idle in its pool before a run;
# sysbench then exercises the whole path.
greeting_ok() {  # greeting_ok PORT
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

# ---------------------------------------------------------------- HAProxy
HAP_PORT=""
if has_target haproxy; then
  HAP_PORT=$(free_port)
  cat >"$WORK/haproxy.cfg" <<EOF
global
    maxconn 6000
    nbthread 2
defaults
    mode tcp
    timeout connect 5s
    timeout client 1h
    timeout server 1h
listen mysql
    bind 127.0.0.1:$HAP_PORT
    mode tcp
    balance roundrobin
    maxconn 6000
    server db1 127.0.0.1:$DB_PORT maxconn 6000
EOF
  haproxy -db -f "$WORK/haproxy.cfg" >"$WORK/haproxy.log" 2>&1 &
  HAP_PID=$!
  wait_ready HAProxy "$HAP_PID" 30 client_ok "$HAP_PORT" ||
    { cat "$WORK/haproxy.log" >&2; die "HAProxy did not start"; }
  log "HAProxy ready on 127.0.0.1:$HAP_PORT (pid $HAP_PID)"
fi

# ---------------------------------------------------------------- mymux
MYMUX_PORT=""
MYMUX_STATE="not built"   # not built | stopped | running | not started
[ -x "$MYMUX_BIN" ] && MYMUX_STATE=stopped || log "mymux: not built ($MYMUX_BIN)"
MYMUX_POOL=""
MYMUX_STARTS=0

mymux_stop() {
  stop_pid "$MYMUX_PID" 10
  MYMUX_PID=""
  [ "$MYMUX_STATE" = running ] && MYMUX_STATE="stopped"
  return 0
}

mymux_start() {  # mymux_start POOL_MAX
  MYMUX_POOL=$1
  if [ ! -x "$MYMUX_BIN" ]; then MYMUX_STATE="not built"; return 1; fi
  MYMUX_PORT=$(free_port)
  MYMUX_STARTS=$((MYMUX_STARTS + 1))
  local cfg="$WORK/mymux-$MYMUX_STARTS.yaml" lg="$WORK/mymux-$MYMUX_STARTS.log"
  cat >"$cfg" <<EOF
listen: 127.0.0.1:$MYMUX_PORT
workers: $WORKERS
busy_poll: ${BENCH_BUSY_POLL:-0}
users:
  - name: app
    password: apppass
backends:
  - name: db1
    address: 127.0.0.1:$DB_PORT
    session_tracking: ${BENCH_MYMUX_TRACKING:-auto}
    cpus: $(nproc)
pool:
  max_per_backend: $MYMUX_POOL
EOF
  "$MYMUX_BIN" -c "$cfg" 2>"$lg" >/dev/null &
  MYMUX_PID=$!
  if wait_ready mymux "$MYMUX_PID" 30 greeting_ok "$MYMUX_PORT"; then
    MYMUX_STATE=running
    log "mymux ready on 127.0.0.1:$MYMUX_PORT (pid $MYMUX_PID, pool $MYMUX_POOL, log $lg)"
    return 0
  fi
  tail -15 "$lg" >&2 || true
  stop_pid "$MYMUX_PID" 5
  MYMUX_PID=""
  MYMUX_STATE="not started"
  return 1
}

# ---------------------------------------------------------------- one run
RESULTS="$WORK/results.jsonl"
: >"$RESULTS"
RUN_NO=0

cpu_ticks() {  # utime+stime of a process (all threads), in clock ticks
  local pid=$1 s
  [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || { echo ""; return; }
  s=$(cat "/proc/$pid/stat" 2>/dev/null) || { echo ""; return; }
  s=${s##*) }
  awk '{print $12 + $13}' <<<"$s"
}

status_var() {
  "${SQL[@]}" -e "SHOW GLOBAL STATUS LIKE '$1'" 2>/dev/null | awk '{print $2}'
}

# Sample Threads_connected over one persistent connection (so the sampler
# itself costs one connection and no process spawns during the run).
sampler_start() {
  local fifo="$WORK/sampler.fifo"
  rm -f "$fifo"; mkfifo "$fifo"
  "${SQL[@]}" <"$fifo" >"$WORK/sampler.out" 2>/dev/null &
  SAMPLER_DB_PID=$!
  ( trap 'exit 0' TERM
    while :; do echo "SHOW GLOBAL STATUS LIKE 'Threads_connected';"; sleep 0.2; done ) >"$fifo" &
  SAMPLER_PID=$!
}
sampler_stop() {
  stop_pid "$SAMPLER_PID" 2; SAMPLER_PID=""
  stop_pid "$SAMPLER_DB_PID" 5; SAMPLER_DB_PID=""
  # peak minus the sampler's own connection
  awk 'BEGIN{m=-1} $1=="Threads_connected" && $2>m {m=$2} END{print (m<0 ? -1 : m-1)}' \
    "$WORK/sampler.out" 2>/dev/null || echo -1
}

run_one() {  # run_one SECTION WORKLOAD PSMODE THREADS TARGET SECONDS
  local section=$1 wl=$2 ps=$3 thr=$4 target=$5 secs=$6 rep=${7:-1}
  local port="" ppid="" notes="" status="" base=0
  RUN_NO=$((RUN_NO + 1))
  local out="$WORK/run-$RUN_NO-$wl-$thr-$target.txt"
  [ "$section" = many ] && [ "$target" = direct ] &&
    notes="direct: every client thread is one MariaDB connection ($thr threads = $thr backend connections)"
  [ "$section" = many ] && [ "$target" = haproxy ] &&
    notes="haproxy: TCP mode relays each client to its own MariaDB connection"

  "${SQL[@]}" -e 'FLUSH STATUS' >/dev/null 2>&1 || true
  # Connections already open (other than this query's own) are not this
  # run's: subtracted below.  When mymux is kept running, its idle pool is
  # counted as used by its runs.
  if [ "$target" != mymux ] || [ "$MYMUX_RESTART" = 1 ]; then
    base=$(status_var Threads_connected); base=$(( ${base:-1} - 1 ))
  fi
  case $target in
    direct) port=$DB_PORT ;;
    haproxy) port=$HAP_PORT; ppid=$HAP_PID ;;
    mymux)
      if [ "$MYMUX_STATE" = running ] && ! kill -0 "$MYMUX_PID" 2>/dev/null; then
        log "mymux (pid $MYMUX_PID) has exited; restarting it"
        notes="mymux had exited before this run and was restarted"
        wait "$MYMUX_PID" 2>/dev/null || true
        MYMUX_STATE=stopped
      fi
      if [ "$MYMUX_STATE" != running ] && [ "$MYMUX_STATE" != "not built" ]; then
        mymux_start "$SECTION_POOL" || true
      fi
      if [ "$MYMUX_STATE" != running ]; then
        status=$MYMUX_STATE
      else
        port=$MYMUX_PORT; ppid=$MYMUX_PID
      fi ;;
  esac
  local common=(section="$section" section_title="$SECTION_TITLE" workload="$wl" ps_mode="$ps"
                threads="$thr" target="$target" time_s="$secs" clk_tck="$CLK_TCK" notes="$notes"
                rep="$rep")
  if [ -n "$status" ]; then
    "$PY" "$REPORT" parse /dev/null "${common[@]}" status="$status" rc= >>"$RESULTS"
    "$PY" "$REPORT" line "$RESULTS"
    return 0
  fi

  local p0 d0 p1 d1 rc=0 maxused peak
  p0=$(cpu_ticks "$ppid"); d0=$(cpu_ticks "$DB_PID")
  sampler_start
  timeout -k 10 $((secs + 90 + thr / 10)) \
    sysbench "$wl" "${SB_COMMON[@]}" --mysql-host=127.0.0.1 --mysql-port="$port" \
      --threads="$thr" --time="$secs" --report-interval=0 --percentile=95 --histogram=on \
      --db-ps-mode="$ps" run >"$out" 2>&1 &
  SB_PID=$!
  wait "$SB_PID" || rc=$?
  SB_PID=""
  p1=$(cpu_ticks "$ppid"); d1=$(cpu_ticks "$DB_PID")
  peak=$(sampler_stop)
  [ "$peak" -ge 0 ] && peak=$((peak - base))
  maxused=$(status_var Max_used_connections)
  # Max_used_connections counts the sampler's connection too.
  [ -n "$maxused" ] && maxused=$((maxused - 1 - base))
  local pcpu="" dcpu=""
  [ -n "$p0" ] && [ -n "$p1" ] && pcpu=$((p1 - p0))
  [ -n "$d0" ] && [ -n "$d1" ] && dcpu=$((d1 - d0))
  if [ "$target" = mymux ]; then
    if ! kill -0 "$MYMUX_PID" 2>/dev/null; then
      common+=(status="mymux died")
      log "mymux died during this run; tail of its log:"
      tail -5 "$WORK/mymux-$MYMUX_STARTS.log" >&2 || true
      wait "$MYMUX_PID" 2>/dev/null || true
      MYMUX_PID=""; MYMUX_STATE=stopped
    elif [ "$MYMUX_RESTART" = 1 ]; then
      mymux_stop
    fi
  fi
  "$PY" "$REPORT" parse "$out" "${common[@]}" rc="$rc" proxy_cpu_ticks="$pcpu" \
    db_cpu_ticks="$dcpu" maxused="$maxused" peak_sampled="$peak" conns_before="$base" \
    logfile="$(basename "$out")" >>"$RESULTS"
  "$PY" "$REPORT" line "$RESULTS"
  if [ $rc -ne 0 ]; then
    tail -3 "$out" | sed 's/^/    sysbench: /' >&2
  fi
}

# ---------------------------------------------------------------- runs
START_TS=$(date +%Y%m%d-%H%M%S)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
n_main=0
[ "$MANY" != only ] && for _ in $WORKLOADS; do for _ in $PS_MODES; do for _ in $THREADS; do
  for _ in $TARGETS; do n_main=$((n_main + REPEAT)); done; done; done; done
n_many=0
[ "$MANY" != 0 ] && for _ in $MANY_THREADS; do for _ in $TARGETS; do n_many=$((n_many + REPEAT)); done; done
log "plan: $n_main main runs x ${TIME}s + $n_many many-client runs x ${MANY_TIME}s (targets: $TARGETS)"

if [ "$MANY" != only ]; then
  SECTION_TITLE="main: threads $THREADS, ${TIME}s per run, mymux workers $WORKERS, pool max_per_backend $POOL_MAX"
  SECTION_POOL=$POOL_MAX
  if has_target mymux && [ "$MYMUX_RESTART" = 0 ]; then
    mymux_start "$SECTION_POOL" || log "mymux: $MYMUX_STATE ($MYMUX_BIN)"
  fi
  for wl in $WORKLOADS; do
    for ps in $PS_MODES; do
      for thr in $THREADS; do
        for ((rep = 1; rep <= REPEAT; rep++)); do
          for target in $(targets_for $rep); do
            run_one main "$wl" "$ps" "$thr" "$target" "$TIME" "$rep"
          done
        done
      done
    done
  done
  mymux_stop
fi

if [ "$MANY" != 0 ]; then
  SECTION_TITLE="many clients: oltp_point_select, ${MANY_TIME}s per run, mymux pool max_per_backend $MANY_POOL (MariaDB max_connections $DB_MAXCONN)"
  SECTION_POOL=$MANY_POOL
  if has_target mymux && [ "$MYMUX_RESTART" = 0 ]; then
    mymux_start "$SECTION_POOL" || log "mymux: $MYMUX_STATE ($MYMUX_BIN)"
  fi
  for ps in $PS_MODES; do
    for thr in $MANY_THREADS; do
      for ((rep = 1; rep <= REPEAT; rep++)); do
        for target in $(targets_for $rep); do
          run_one many oltp_point_select "$ps" "$thr" "$target" "$MANY_TIME" "$rep"
        done
      done
    done
  done
  mymux_stop
fi

# ---------------------------------------------------------------- report
mkdir -p "$RESULTS_DIR"
OUT_JSON="$RESULTS_DIR/$START_TS.json"
mymux_version=""
[ -x "$MYMUX_BIN" ] && mymux_version=$("$MYMUX_BIN" --version 2>&1 | head -1 || true)
MYMUX_VERSION="$mymux_version" LOAD_START="$LOAD_START" "$PY" - "$WORK/meta.json" <<EOF
import json, os, sys, subprocess, platform
def sh(*a):
    try:
        return subprocess.run(a, capture_output=True, text=True, timeout=10).stdout.strip().splitlines()[0]
    except Exception:
        return None
meta = {
  "timestamp": "$START_TS", "host": platform.node(), "nproc": os.cpu_count(),
  "loadavg_start": os.environ["LOAD_START"], "loadavg_end": open("/proc/loadavg").read().split()[:3],
  "git_commit": sh("git", "-C", "$ROOT", "rev-parse", "HEAD"),
  "mymux_bin": "$MYMUX_BIN",
  "mymux_bin_mtime": __import__("time").strftime("%Y-%m-%dT%H:%M:%S", __import__("time").localtime(os.path.getmtime("$MYMUX_BIN"))) if os.path.exists("$MYMUX_BIN") else None,
  "mymux_version": os.environ.get("MYMUX_VERSION") or None,
  "mymux_workers": $WORKERS, "mymux_restart_per_run": "$MYMUX_RESTART" == "1", "mymux_pool_main": $POOL_MAX, "mymux_pool_many": $(case $MANY_POOL in *[!0-9]*) echo "\"$MANY_POOL\"";; *) echo "$MANY_POOL";; esac),
  "threads": "$THREADS".split(), "many_threads": "$MANY_THREADS".split() if "$MANY" != "0" else [],
  "time_s": $TIME, "repeat": $REPEAT, "many_time_s": $MANY_TIME, "ps_modes": "$PS_MODES".split(),
  "tables": $TABLES, "table_size": $TABLE_SIZE, "mariadb_max_connections": $DB_MAXCONN,
  "session_tracking": "${BENCH_SESSION_TRACK:-0}" == "1",
  "mymux_session_tracking": "${BENCH_MYMUX_TRACKING:-auto}",
  "sysbench": sh("sysbench", "--version"), "haproxy": sh("haproxy", "-v"),
  "mariadb": sh("mariadbd", "--version"),
  "latency_note": "avg/p95 are per sysbench event: one query for oltp_point_select, one 18-query transaction for oltp_read_write",
}
json.dump(meta, open(sys.argv[1], "w"), indent=1)
EOF
echo
echo "mymux benchmark $START_TS on $(nproc) cores (load avg at start: $LOAD_START, end: $(cut -d' ' -f1-3 /proc/loadavg))"
echo "sysbench ${TABLES}x${TABLE_SIZE} rows, --db-ps-mode $PS_MODES; avg/p95 latency per event (point_select: 1 query, read_write: 1 transaction of 18 queries)"
echo "each figure is the median of $REPEAT run(s) per point, targets rotated; spread = (max - min) / median of qps"
echo "cpu µs/q = proxy process utime+stime / queries; conns = peak MariaDB connections during the run (Max_used_connections), smpl = peak of Threads_connected sampled every 0.2 s"
"$PY" "$REPORT" table "$RESULTS" "$WORK/meta.json" "$OUT_JSON"
echo
echo "results: $OUT_JSON"
