#!/bin/bash
# client_test_runner.sh: runs MariaDB's own client-API test program (mariadb-client-test,
# Debian package mariadb-test) against a server or proxy at HOST:PORT as USER/PASSWORD.
#
# Usage: client_test_runner.sh [--all] [--keep-settings] [--drop] HOST PORT USER PASSWORD [TEST...]
#        client_test_runner.sh --list-excluded
#
# TEST...          the tests to run, in mariadb-client-test's own order (default: all it knows).
# --all            also run the tests listed in EXCLUDED below (they are skipped otherwise).
# --keep-settings  do not switch the server to mariadb-test-run's settings for the run.
# --drop           run each test as it is written: without -d, so that it drops
#                  client_test_db when it ends (a test that needs an earlier test's tables
#                  then fails, directly too: compare with a direct run).
#
# Each test runs as its own mariadb-client-test process with -d (client_test_db is not
# dropped), in the program's own order, so a test that uses tables an earlier test left
# behind finds them as in one mariadb-test-run invocation, and every failure is attributed to
# exactly one test. The database is dropped at the end, and after a failed test.
#
# The tests were written for mariadb-test-run's server, which runs with sql_mode='' and
# MyISAM as the default engine; the test bed runs MariaDB's defaults (strict mode, InnoDB).
# So, unless --keep-settings, the GLOBAL sql_mode and default_storage_engine are set for the
# run through HOST:PORT (USER needs SUPER) and restored on exit. New sessions, and backend
# connections reset by a proxy, take the global values.
#
# Prints "ok NAME", "FAIL NAME: why" or "skip NAME: reason" per test and a summary line;
# exits 0 if every test run passed, 1 if any failed, 2 on bad usage.
# Environment: MARIADB_CLIENT_TEST (default mariadb-client-test), MCT_TIMEOUT (seconds per
# test, default 60), MCT_LOG_DIR (keep each test's output there; default a temp dir, removed).

set -u

# Tests that cannot pass here, each with the reason. Checked against MariaDB 10.11 directly
# over TCP as a non-root user with ALL PRIVILEGES WITH GRANT OPTION and the settings above.
BULK="uses COM_STMT_BULK_EXECUTE (array binding), a MariaDB extended capability mymux deliberately does not offer"
RUNTIME_USER="logs in as a user the test creates at run time; mymux admits only the users in its configuration"
declare -A EXCLUDED=(
    # Fail against MariaDB directly over TCP too.
    [test_proxy_header]="sends PROXY protocol headers, which the test bed's server does not accept (needs proxy-protocol-networks); mymux terminates the client connection and does not relay PROXY headers"
    [test_bug53371]="creates a user @localhost and connects as it; the test bed runs with skip-name-resolve, so TCP clients are 127.0.0.1 (fails directly too)"
    [test_bug56976]="expects long data beyond the server's max_allowed_packet to fail; written for mariadb-test-run's 32000000, the test bed's server allows 1G (fails directly too)"
    # Need what a proxy with its own users and capabilities deliberately does not offer.
    [test_prepare_grant]="$RUNTIME_USER"
    [test_change_user]="$RUNTIME_USER (COM_CHANGE_USER to mysqltest_pw and others)"
    [test_bug31669]="$RUNTIME_USER (COM_CHANGE_USER to a maximum-length user name)"
    [test_bug13001491]="$RUNTIME_USER (mysqltest_u1)"
    [test_progress_reporting]="needs progress report packets (MARIADB_CLIENT_PROGRESS), a MariaDB extended capability mymux deliberately does not offer"
    [test_connect_autocommit]="changes GLOBAL autocommit and expects the next new connection to start with it; mymux hands a new client a pooled backend connection whose session values were taken from the globals when that connection was opened (documented in README: SET GLOBAL reaches pooled connections when they are reset or reopened)"
    [test_ps_query_cache]="counts the server's query-cache hits across statements; with multiplexing each statement may run on another backend connection (and another character set), so the server's cache sees different hits than on a direct connection"
    [test_cache_metadata]="needs result-set metadata caching (MARIADB_CLIENT_CACHE_METADATA), a MariaDB extended capability mymux deliberately does not offer"
    [test_bulk_autoinc]="$BULK"
    [test_bulk_delete]="$BULK"
    [test_bulk_replace]="$BULK"
    [test_bulk_insert_returning]="$BULK"
    [test_bulk_delete_returning]="$BULK"
    [test_mdev_24411]="$BULK"
    [test_mdev_34718_bu]="$BULK"
    [test_mdev_34718_au]="$BULK"
    [test_mdev_34718_bd]="$BULK"
    [test_mdev_34718_ad]="$BULK"
    [test_mdev_34958]="$BULK"
    [test_mdev_32086]="$BULK"
    [test_mdev35953]="$BULK"
)

usage() {
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

run_all=0
keep_settings=0
drop=0
while [ $# -gt 0 ]; do
    case "$1" in
    --all) run_all=1; shift ;;
    --keep-settings) keep_settings=1; shift ;;
    --drop) drop=1; shift ;;
    --list-excluded)
        for t in $(printf '%s\n' "${!EXCLUDED[@]}" | sort); do
            printf '%s: %s\n' "$t" "${EXCLUDED[$t]}"
        done
        exit 0
        ;;
    -h | --help) usage ;;
    --) shift; break ;;
    -*) echo "unknown option $1" >&2; usage ;;
    *) break ;;
    esac
done
[ $# -ge 4 ] || usage
host=$1 port=$2 user=$3 password=$4
shift 4

MCT=${MARIADB_CLIENT_TEST:-mariadb-client-test}
TIMEOUT=${MCT_TIMEOUT:-60}
command -v "$MCT" >/dev/null || { echo "runner: $MCT not found (Debian package mariadb-test)" >&2; exit 2; }

# The program's own order; `-T` prints a header line, a blank line, then one name a line.
mapfile -t known < <("$MCT" -T 2>&1 | tail -n +3 | grep -v '^$')
[ ${#known[@]} -gt 100 ] || { echo "runner: $MCT -T listed only ${#known[@]} tests" >&2; exit 2; }
declare -A wanted=()
if [ $# -gt 0 ]; then
    declare -A is_known=()
    for t in "${known[@]}"; do is_known[$t]=1; done
    for t in "$@"; do
        [ -n "${is_known[$t]:-}" ] || { echo "runner: unknown test $t" >&2; exit 2; }
        wanted[$t]=1
    done
fi

workdir=$(mktemp -d /tmp/mct-runner.XXXXXX)
logdir=${MCT_LOG_DIR:-$workdir/logs}
mkdir -p "$logdir" "$workdir/var"

sql() {
    mariadb --no-defaults --protocol=TCP -h "$host" -P "$port" -u "$user" -p"$password" \
        --connect-timeout=10 -N -B -e "$1"
}

# Global variables the tests (or this runner) change; a test that fails half way leaves them
# changed, so all are put back at the end. The same for accounts the tests create.
GLOBALS="sql_mode default_storage_engine autocommit query_cache_type query_cache_size
    general_log slow_query_log character_set_server collation_server character_set_client
    collation_connection max_allowed_packet"
saved_settings="" saved_users=""
cleanup() {
    sql "DROP DATABASE IF EXISTS client_test_db" >/dev/null 2>&1
    if [ -n "$saved_settings" ]; then
        sql "SET GLOBAL $saved_settings" ||
            echo "runner: could not restore GLOBAL $saved_settings" >&2
    fi
    if [ -n "$saved_users" ]; then
        sql "SELECT CONCAT(QUOTE(user), '@', QUOTE(host)) FROM mysql.user" 2>/dev/null |
            while read -r account; do
                grep -qxF -- "$account" <<<"$saved_users" || sql "DROP USER $account" >/dev/null 2>&1
            done
    fi
    rm -rf "$workdir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

expr=""
for v in $GLOBALS; do
    expr="$expr${expr:+, ', ', }'$v = ', IF(@@GLOBAL.$v REGEXP '^[0-9]+\$', @@GLOBAL.$v, QUOTE(@@GLOBAL.$v))"
done
saved_settings=$(sql "SELECT CONCAT($expr)") ||
    { echo "runner: cannot read the server's settings through $host:$port" >&2; exit 1; }
saved_users=$(sql "SELECT CONCAT(QUOTE(user), '@', QUOTE(host)) FROM mysql.user") ||
    { echo "runner: cannot list accounts (does $user have privileges on mysql.*?)" >&2; exit 1; }
if [ $keep_settings = 0 ]; then
    sql "SET GLOBAL sql_mode = '', GLOBAL default_storage_engine = MyISAM" ||
        { echo "runner: cannot set GLOBAL sql_mode (does $user have SUPER?)" >&2; exit 1; }
fi
sql "DROP DATABASE IF EXISTS client_test_db" >/dev/null

passed=0 failed=0 skipped=0 failed_names=""
start=$(date +%s)
for t in "${known[@]}"; do
    if [ ${#wanted[@]} -gt 0 ] && [ -z "${wanted[$t]:-}" ]; then
        continue
    fi
    if [ $run_all = 0 ] && [ -n "${EXCLUDED[$t]:-}" ]; then
        echo "skip $t: ${EXCLUDED[$t]}"
        skipped=$((skipped + 1))
        continue
    fi
    log="$logdir/${t//[^A-Za-z0-9_]/_}.log"
    timeout -k 5 "$TIMEOUT" "$MCT" --no-defaults -h "$host" -P "$port" -u "$user" \
        -p"$password" --vardir="$workdir/var" $([ $drop = 1 ] || echo -d) "$t" >"$log" 2>&1 </dev/null
    rc=$?
    if [ $rc = 0 ] && grep -q 'SUCCESS' "$log"; then
        echo "ok $t"
        passed=$((passed + 1))
    else
        if [ $rc = 124 ] || [ $rc = 137 ]; then
            why="timed out after ${TIMEOUT}s"
        else
            # The failed check and the last server error the test printed.
            why="exit $rc: $(grep -E 'check failed|\[MySQL|error|Error' "$log" | tail -n 3 |
                tr '\n' ' ' | tr -s ' ' | cut -c1-400)"
        fi
        echo "FAIL $t: $why"
        failed=$((failed + 1))
        failed_names="$failed_names $t"
        # A failed test leaves its tables behind, which would fail the next test that
        # creates the same names: start the following tests from a fresh database.
        sql "DROP DATABASE IF EXISTS client_test_db" >/dev/null 2>&1
    fi
done
echo "summary: $passed passed, $failed failed, $skipped excluded in $(($(date +%s) - start))s"
[ $failed = 0 ] || echo "failed:$failed_names"
[ $failed = 0 ]
