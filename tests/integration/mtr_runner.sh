#!/bin/bash
# mtr_runner.sh: runs a fixed list of MariaDB's own regression tests (suite `main`, Debian
# package mariadb-test) with mariadb-test-run --extern against a server or proxy at HOST:PORT.
#
# Usage: mtr_runner.sh [--all] [--candidates] [--fresh] [--no-retry] [--server SHOST:SPORT]
#                      HOST PORT [TEST...]
#        mtr_runner.sh --list | --list-candidates | --list-excluded
#
# TEST...          the tests to run (names without "main."); default: the list below.
# --all            also run the tests listed in EXCLUDED (they are skipped otherwise).
# --candidates     run every candidate test (see "How the list was chosen") instead of the
#                  list, each on a fresh `test` database (see below): not for CI.
# --fresh          start each test from a fresh state (see below; --candidates implies it).
# --no-retry       do not run failed tests again alone (see below).
# --list           print the list of tests run by default and exit.
# --list-candidates  print the candidate tests and exit.
# --server         the server behind HOST:PORT: the runner reads its settings and resets its
#                  databases and accounts there (default HOST:PORT itself); the settings are
#                  put back through HOST:PORT, so that a proxy sees the SET GLOBAL.
#
# The tests connect as root with no password over TCP, as mariadb-test-run does; a proxy in
# front of the server must admit root with an empty password. They expect the server
# mariadb-test-run would start (latin1 server character set, MyISAM default engine, the
# settings of its include/default_mysqld.cnf): test_mtr.py starts one.
#
# All tests run in one mariadb-test-run invocation, in the list's order (--no-reorder). A
# failed test can leave tables or settings behind that fail the tests after it (external
# servers get no check-testcase clean-up), so each test that fails after an earlier failure
# runs once more alone, on a fresh `test` database with the saved globals put back; the first
# failure of a run is never retried. mariadb-test-run writes a failing test's .reject file next to its .result, in the
# installed suite.
#
# Prints "ok NAME", "FAIL NAME: why" or "skip NAME: reason" per test and a summary line;
# exits 0 if every test run passed, 1 if any failed, 2 on bad usage.
# Environment: MTR (default /usr/share/mysql/mysql-test/mariadb-test-run), MTR_TIMEOUT
# (seconds for the whole batch, default 600), MTR_LOG_DIR (keep the logs there).
#
# How the list was chosen: first, every `main` test without its own server options (.opt/.cnf,
# which --extern cannot apply) and without a need for a debug build, binary log, plugin,
# query cache or restart, shorter than 7 kB of test text, was run directly against such a
# server; of the ~300 that passed, about 170 were taken by area (DDL and DML, queries and the
# optimizer, functions, data types, character sets, stored programs and triggers, prepared
# statements, variables and connections, information_schema and SHOW, full-text, window
# functions, GIS, partitions, engines, client programs) so that each area has several, plus
# the longer tests that issue 15 found failing through mymux (sp-cursor, signal, ctype_latin1,
# user_var, packet, select_safe, ...), less the few that take seconds each (sp_stress_case,
# index_merge_innodb, range_mrr_icp, timeout): 182 tests. Then all 851 candidates (see
# candidates() and --candidates) were run once, each from a fresh state, on MariaDB 10.11 on
# the 2-core machine: 639 passed directly, 549 of those through mymux with multiplexing on
# and 577 with it off (the failures are excluded below with their reasons, or are bugs left,
# or follow from state a failed test left behind: one run of mysqldump-timing that met the
# server's max_connections left max_statement_time at 0.1 s for the 20 after it). The other
# tests that passed all three runs and took under 0.5 s each directly were added (283; less
# client_xml and create_utf8, which another test's leftovers fail now and then through mymux,
# overflow, which waits for the server's session count, and timeout, left out before): 465
# tests, whose three runs in test_mtr.py took 187 s on the release build and 168 s on the
# ASan one (with other load beside them). The 91 that passed all three but take longer
# (about 320 s a run) are left to --candidates. Later, get_diagnostics, sp-vars and
# auto_increment joined the list once fixed: 468 tests; test_mtr.py's three runs took 465 s
# on the release build with another test run beside them, 460 passing directly (MariaDB
# 10.11.19). Until then the globals were never put back (max_statement_time's '0.000000'
# was quoted, which SET GLOBAL refuses), so the retries of the full measurement above ran
# on whatever the failed tests had left.
#
# Order-dependent: ctype_recoding's SHOW TABLES lists a view `vv` when it comes after
# information_schema_tables, whose second connection loops CREATE OR REPLACE VIEW vv until
# the first KILLs it and drops vv: a CREATE the KILL did not stop in time runs after the
# DROP. Seen once through mymux with multiplexing on (it passed alone); a race of the test
# itself, which a KILL through mymux (the victim's worker, then KILL QUERY on the backend)
# may widen.

set -u

# Each test run by default. Grouped by area; names as in mysql-test/main.
LIST=(
    # DDL and DML
    alter_table_errors alter_table_trans create_drop_db create_drop_index create_drop_procedure
    create_drop_trigger create_drop_view create_replace_tmp delete_returning replace auto_increment
    replace_returning insert_returning insert_returning_datatypes insert_update_autoinc-7150
    update_ignore_216 truncate-stale-6500 renamedb rollback unique key_primary key_diff check
    constraints check_constraint_show empty_table limit tablelock foreign_key
    single_delete_update table_value_constr
    # queries and the optimizer
    bool bench_count_distinct count_distinct except except_all set_operation_oracle join_crash
    join_optimizer order_by_optimizer order_by_sortkey order_fill_sortbuf filesort_pack
    subselect_nulls subselect_sj_nonmerged subquery_merge subselect_exists2in_costmat
    negation_elimination select_safe sum_distinct last_value group_by_null
    derived_cond_pushdown_innodb keyread func_analyse
    # functions
    func_bit func_compress func_crypt func_equal func_if func_int func_isnull func_op
    func_regexp func_replace func_set func_timestamp func_weight_string json_equals
    natural_sort_key adddate_454 str_to_datetime_457 second_frac-9175 round
    # data types
    type_binary type_bool type_char type_json type_nchar type_row type_uint type_varbinary
    type_interval type_hex_hybrid type_time_round type_datetime_round type_bit_innodb
    type_num_innodb
    # character sets and collations
    ctype_cp1251 ctype_latin1 ctype_utf16le ctype_cp866 ctype_dec8 ctype_hebrew ctype_latin1_de
    ctype_mb ctype_create ctype_collate_database ctype_utf8mb4_heap ctype_utf8mb4_myisam
    ctype_utf8mb4_general_ci_casefold ctype_ucs2_general_ci_ws ctype_utf8mb3_innodb
    ctype_utf32_innodb binary
    # stored programs and triggers
    sp-cursor sp-anchor-row-type-cursor sp-anchor-row-type-table signal sp-fib sp-group
    sp-no-code sp_missing_4665 sp-memory-leak signal_demo2 signal_demo3
    signal_sqlmode trigger-33083 trigger_no_defaults-11698 custom_aggregates_i_s partition_sp
    get_diagnostics sp-vars
    # prepared statements
    prepare ps_2myisam ps_4heap ps_5merge ps_10nestset ps_max_subselect-5113 ps_innodb
    information_schema_prepare
    # variables, sessions and connections
    user_var packet reset_connection aborted_clients mdev375 plugin_vars ansi
    kill_query-6728 lock_kill memory_used deprecated_features connect-no-db
    # information_schema and SHOW
    show information_schema_columns information_schema_stats information_schema_tables
    show_row_order-9226 table_options help errors
    # full-text search
    fulltext3 fulltext_multi fulltext_order_by fulltext_update fulltext_var fulltext_charsets
    # window functions
    win_avg win_rank win_sum win_std win_orderby win_percent_cume
    # GIS
    gis-rt-precise sp_gis subselect_gis type_geometry_mix_int
    # partitions
    partition_hash partition_mgm partition_truncate partition_charset
    # engines
    blackhole_plugin mix2_myisam_ucs2 merge_innodb innodb_group innodb_utf8
    strict_autoinc_1myisam strict_autoinc_3heap preload assign_key_cache
    # client programs
    mysqldump-header mysqltest_256 my_print_defaults perror non_blocking_api
    # the other candidates that passed directly and through mymux both ways in the
    # measurement (see the header) and took under 0.5 s each directly, by name
    alias alter_table_autoinc-5574 alter_table_online analyze analyze_format_json_timings
    analyze_stmt_orderby backup_aria bigint binary_to_hex bool_innodb bug12427262 bug13633383
    bulk_replace case check_constraint check_constraint_innodb client column_compression_utf16
    comment_column comment_column2 comment_index comment_table comments commit compare
    contributors create-uca create_drop_server create_drop_user create_or_replace_pfs
    create_w_max_indexes_64 cset_narrowing cte_cycle cte_nonrecursive
    cte_recursive_not_embedded ctype_ascii ctype_collate ctype_collate_table ctype_cp850
    ctype_cp932 ctype_errors ctype_filename_innodb ctype_latin2 ctype_latin2_ch ctype_many
    ctype_partitions ctype_recoding ctype_sjis_innodb ctype_tis620 ctype_uca_innodb
    ctype_uca_partitions ctype_ucs2_general_ci_casefold ctype_ucs2_general_mysql500_ci_casefold
    ctype_ucs2_general_mysql500_ci_ws ctype_ucs2_turkish_ci_casefold ctype_ucs2_uca
    ctype_ucs2_unicode_520_ci_casefold ctype_utf8mb3_general_ci_casefold
    ctype_utf8mb3_general_ci_ws ctype_utf8mb3_general_mysql500_ci_casefold
    ctype_utf8mb3_turkish_ci_casefold ctype_utf8mb3_unicode_520_ci_casefold ctype_utf8mb4_uca
    ctype_utf8mb4_unicode_520_ci_casefold ctype_utf8mb4_unicode_ci_casefold
    custom_aggregate_functions datetime_456 default_innodb delete_innodb
    delimiter_command_case_sensitivity derived_split_innodb desc_index_range
    distinct_notembedded dyncol empty_string_literal endspace events_microsec events_trans
    execution_constants explain explain_innodb explain_json explain_json_format_partitions
    explain_json_innodb ext_key_noPK_6794 fast_prefix_index_fetch_innodb features fetch_first
    filesort_bad_i_s-7585 fulltext fulltext2 fulltext_cache fulltext_derived_4257
    fulltext_derived_4316 fulltext_distinct fulltext_left_join func_concat func_date_add
    func_default func_des_encrypt func_digest func_encrypt_ucs2 func_extract func_group_innodb
    func_like func_regexp_pcre func_rollback func_sapdb func_system func_test func_time_hires
    func_time_round gcc296 gis-alter_table_online gis-json group_by_innodb
    group_min_max_notembedded handler_read_last having_cond_pushdown huge_frm-6224
    ignored_index ignored_index_innodb implicit_char_to_num_conversion in_datetime_241
    in_subq_cond_pushdown index_intersect index_intersect_innodb index_merge_innodb_notembedded
    information_schema2 innodb_bug878769 insert_innodb item_types join_cache_cardinality
    json_normalize key keywords leaks load_timezones_with_alter_algorithm_inplace
    loaddata_autocom_innodb locked_temporary-5955 long_unique_bugs_no_sp_protocol
    long_unique_update long_unique_using_hash lotofstack lowercase_table5 max_session_mem_used
    mdev-25830 mdev-35721-ubsan mdev-35765 mdev-37000 mdev13607 mdev19198 mdev316 mdev_14586
    metadata mrr_derived_crash_4610 multi_update_innodb myisam_icp myisam_icp_notembedded
    myisam_mrr mysql_comments mysql_cp932 mysql_not_windows mysql_protocols
    mysql_tzinfo_to_sql_symlink mysqld--defaults-file mysqldump-utf8mb4 mysqlshow
    mysqltest_cont_on_error name_const_replacement null null_key odbc olap opt_trace_default
    opt_trace_index_merge_innodb opt_trace_ucs2 order_by-mdev-10122 order_by_optimizer_innodb
    order_by_zerolength-4285 outfile_loaddata parser_not_embedded partition_bug18198
    partition_column_prune partition_key_cache partition_mgm_err partition_mgm_err2
    partition_mrr_aria partition_mrr_innodb partition_mrr_myisam partition_order partition_ucs2
    precedence_bugs progress_976225 ps_11bugs ps_ddl1 ps_not_windows range_notembedded
    reopen_temp_table repair_symlink-5543 replace_returning_datatypes replace_returning_err
    rowid_filter_myisam rowid_order_innodb select_found servers set_operation
    set_statement_profiling show_function_with_pad_char_to_full_length sighup-6580 signal_demo1
    simultaneous_assignment single_delete_update_innodb sp-bugs2 sp-dynamic sp-expr sp-for-loop
    sp-no-valgrind sql_mode_pad_char_to_full_length ssl_and_innodb stack stack-crash
    stat_tables_disabled stat_tables_flush stat_tables_missing stat_tables_partition
    statement-expr statistics_close statistics_index_crash-7362 status_bug17954
    strict_autoinc_2innodb strings subselect-crash_15755 subselect2 subselect_elimination
    subselect_exists2in subselect_extra subselect_mat_analyze_json subselect_notembedded
    subselect_nulls_innodb subselect_partial_match subselect_sj_aria subselect_union_rand
    system_mysql_db system_mysql_db_refs table_keyinfo-6838 temporal_literal truncate
    truncate_notembedded type_bit type_blob type_date type_date_round type_datetime type_enum
    type_float type_newdecimal type_num type_ranges type_set type_temporal_innodb type_time
    type_time_6065 type_year union_innodb update update_innodb variables_community view_alias
    win_as_arg_to_aggregate_func win_big-mdev-10092 win_bit win_empty_over win_first_last_value
    win_i_s win_insert_select win_lead_lag win_min_max win_nth_value win_ntile win_percentile
    xml xtradb_mrr
)

# Tests (of the list or the candidates) that cannot pass through mymux, each with the reason.
# They pass directly over TCP against the same server (plugin_vars only on its first run).
RUNTIME_USER="logs in as a user the test creates at run time; mymux admits only the users in its configuration"
SESSIONS="waits for the server's session count to fall back after disconnects; mymux keeps the backend connections open in its pool"
OWN_STATEMENTS="reads the server session's own counters; on a pooled connection they count the connection's life, mymux's own statements included (trackers set, state replayed, warnings read back), and a reset clears them"
METADATA="reads MariaDB's extended column metadata (format=json), a MariaDB extended capability (MARIADB_CLIENT_EXTENDED_METADATA) mymux deliberately does not offer"
KILL_EXPR="KILL with an expression for the id: mymux translates its ids in a literal KILL (and CONNECTION_ID()) only, and refuses the rest rather than let the server read them as its own"
declare -A EXCLUDED=(
    [check]="$RUNTIME_USER (global_level_priv)"
    [analyze_stmt_privileges]="$RUNTIME_USER"
    [analyze_stmt_privileges2]="$RUNTIME_USER"
    [change_user]="$RUNTIME_USER (COM_CHANGE_USER to test_nopw)"
    [concurrent_innodb_safelog]="$RUNTIME_USER"
    [concurrent_innodb_unsafelog]="$RUNTIME_USER"
    [cte_grant]="$RUNTIME_USER"
    [default_session]="$RUNTIME_USER"
    [events_processlist]="$RUNTIME_USER"
    [events_stress]="$RUNTIME_USER"
    [grant_binlog_replay]="$RUNTIME_USER"
    [insert_notembedded]="$RUNTIME_USER"
    [kill]="$RUNTIME_USER"
    [nested_profiling]="$RUNTIME_USER"
    [ps_grant]="$RUNTIME_USER"
    [sql_mode]="$RUNTIME_USER"
    [cte_nonrecursive_not_embedded]="$RUNTIME_USER"
    [delete_returning_grant]="$RUNTIME_USER"
    [flush_notembedded]="$RUNTIME_USER"
    [grant_explain_non_select]="$RUNTIME_USER"
    [grant_kill]="$RUNTIME_USER"
    [grant_master_admin]="$RUNTIME_USER"
    [grant_read_only]="$RUNTIME_USER"
    [grant_server]="$RUNTIME_USER"
    [grant_slave_admin]="$RUNTIME_USER"
    [lock_view]="$RUNTIME_USER"
    [partition_grant]="$RUNTIME_USER"
    [grant_utf8_cli]="$RUNTIME_USER (the mariadb client logs in as one)"
    [aborted_clients]="$SESSIONS"
    [mdev375]="$SESSIONS"
    [compress]="$SESSIONS"
    [dirty_close]="$SESSIONS"
    [lock]="$SESSIONS"
    [rename]="$SESSIONS"
    [sp-threads]="$SESSIONS"
    [synchronization]="$SESSIONS"
    [consistent_snapshot]="$SESSIONS"
    [sp-innodb]="$SESSIONS"
    [overflow]="$SESSIONS"
    [binary_to_hex]="$SESSIONS (failed so once in CI with pool.multiplex off: a client that came while the connection another had left was being reset got a new one)"
    [status_bug17954]="$SESSIONS (as binary_to_hex)"
    [empty_table]="$OWN_STATEMENTS (the status counter Empty_queries)"
    [status2]="$OWN_STATEMENTS (the status counter Questions)"
    [information_schema_parameters]="$OWN_STATEMENTS (the status counter Handler_read_rnd_next)"
    [information_schema_routines]="$OWN_STATEMENTS (the status counter Handler_read_rnd_next)"
    [myisam_explain_non_select_all]="$OWN_STATEMENTS (the status counters Handler_*)"
    [invisible_field]="$OWN_STATEMENTS (the status counter Feature_invisible_columns)"
    [profiling]="$OWN_STATEMENTS (SHOW PROFILES)"
    [show_profile]="$OWN_STATEMENTS (SHOW PROFILES)"
    [mysqltest_tracking_info]="reads @@session_track_system_variables, which mymux sets to '*' on its backend connections to follow their state"
    [user_var]="looks itself up in information_schema.PROCESSLIST by CONNECTION_ID(); through mymux CONNECTION_ID() is mymux's id and the list shows the server's backend connections"
    [type_json]="$METADATA"
    [mysql-metadata]="$METADATA"
    [parser]="$KILL_EXPR"
    [sp-bugs]="$KILL_EXPR"
    [plugin_vars]="passes only the first time on a server: it leaves the archive plugin and an archive table behind, so the run after the direct one fails (directly too: it fails on the test bed's second direct run)"
    # Bugs left.
    [order_by_sortkey]="BUG LEFT, intermittent with pool.multiplex off (once in four CI runs, not reproduced in 160 runs alone or after its neighbours, release and ASan builds): its temporary table was gone before the test's DROP TABLE (1051 Unknown table)"
)

MTR=${MTR:-/usr/share/mysql/mysql-test/mariadb-test-run}

# candidates: prints every `main` test that --extern can run as written: no server options of
# its own (.opt, .cnf, combinations: --extern cannot apply them) and no need for a debug
# build, binary log, query cache, server restart or a server that goes away; and none that
# writes the grant tables or runs mariadb-upgrade (one that fails half-way there can lock root
# out for every test after it).
candidates() {
    local dir t
    dir=$(dirname "$MTR")/main
    for f in "$dir"/*.test; do
        t=$(basename "$f" .test)
        for x in .opt -master.opt -slave.opt .cnf .combinations; do
            [ -e "$dir/$t$x" ] && continue 2
        done
        grep -qaiE "source +include/(have_debug|have_log_bin|have_binlog|have_query_cache|restart_mysqld|kill_mysqld|start_mysqld|shutdown_mysqld|wait_until_disconnected|master-slave)|exec.*MYSQLD_CMD" "$f" &&
            continue
        grep -qaiE "(truncate( table)?|delete from|update|drop table( if exists)?|rename table|alter table|insert( into)?|replace( into)?) +\`?mysql\`?\.\`?(global_priv|user|db|tables_priv|columns_priv|procs_priv|proxies_priv|roles_mapping|host)\b|switch_to_mysql_user|mysql_upgrade" "$f" &&
            continue
        echo "$t"
    done
}

usage() {
    sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

run_all=0 retry=1 clean_each=0
server=""
while [ $# -gt 0 ]; do
    case "$1" in
    --all) run_all=1; shift ;;
    --candidates) mapfile -t LIST < <(candidates); clean_each=1; shift ;;
    --no-retry) retry=0; shift ;;
    --fresh) clean_each=1; shift ;;
    --server) server=${2:?}; shift 2 ;;
    --list) printf '%s\n' "${LIST[@]}"; exit 0 ;;
    --list-candidates) candidates; exit 0 ;;
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
[ $# -ge 2 ] || usage
host=$1 port=$2
shift 2
[ -n "$server" ] || server=$host:$port

TIMEOUT=${MTR_TIMEOUT:-600}
[ -x "$MTR" ] || { echo "runner: $MTR not found (Debian package mariadb-test)" >&2; exit 2; }

tests=("${LIST[@]}")
[ $# -gt 0 ] && tests=("$@")
for t in "${tests[@]}"; do
    [ -f "$(dirname "$MTR")/main/$t.test" ] || { echo "runner: unknown test $t" >&2; exit 2; }
done

workdir=$(mktemp -d /tmp/mtr-runner.XXXXXX)
logdir=${MTR_LOG_DIR:-$workdir/logs}
mkdir -p "$logdir"

sql() {
    mariadb --no-defaults --protocol=TCP -h "${server%:*}" -P "${server##*:}" -u root \
        --connect-timeout=10 -N -B -e "$1"
}

# Global variables tests change (a failed test leaves them changed) and the accounts they
# create are put back at the end, so that the next run starts from the same server.
GLOBALS="sql_mode default_storage_engine autocommit character_set_server collation_server
    character_set_client collation_connection max_allowed_packet net_buffer_length
    sql_select_limit max_join_size general_log slow_query_log log_output event_scheduler
    optimizer_switch join_cache_level myisam_data_pointer_size max_heap_table_size
    tmp_table_size sort_buffer_size use_stat_tables histogram_type histogram_size
    optimizer_use_condition_selectivity lock_wait_timeout innodb_lock_wait_timeout time_zone
    div_precision_increment group_concat_max_len concurrent_insert low_priority_updates
    key_buffer_size read_only max_statement_time max_connections"
saved_settings="" saved_users=""
saved_dbs=""
fresh_test_db() {
    local db
    sql "DROP DATABASE IF EXISTS test; CREATE DATABASE test" >/dev/null 2>&1
    [ -n "$saved_dbs" ] || return 0
    sql "SHOW DATABASES" 2>/dev/null | while read -r db; do
        grep -qxF -- "$db" <<<"$saved_dbs" || sql "DROP DATABASE \`$db\`" >/dev/null 2>&1
    done
}
restore_settings() {
    [ -n "$saved_settings" ] || return 0
    local via=(mariadb --no-defaults --protocol=TCP -h "$host" -P "$port" -u root
        --connect-timeout=10 -N -B -e)
    # First the packet size alone, so that the long SET that follows fits.
    "${via[@]}" "SET GLOBAL max_allowed_packet = 16777216" >/dev/null 2>&1
    "${via[@]}" "SET GLOBAL $saved_settings" ||
        echo "runner: could not restore GLOBAL $saved_settings" >&2
}
cleanup() {
    fresh_test_db
    restore_settings
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
    expr="$expr${expr:+, ', ', }'$v = ', IF(@@GLOBAL.$v REGEXP '^[0-9]+([.][0-9]+)?\$', @@GLOBAL.$v, QUOTE(@@GLOBAL.$v))"
done
saved_settings=$(sql "SELECT CONCAT($expr)") ||
    { echo "runner: cannot connect as root to $server" >&2; exit 1; }
saved_dbs=$(sql "SHOW DATABASES") || exit 1
saved_users=$(sql "SELECT CONCAT(QUOTE(user), '@', QUOTE(host)) FROM mysql.user") ||
    { echo "runner: cannot list accounts" >&2; exit 1; }

# With --fresh (and --candidates), mariadb-test-run runs each test through a wrapper of mariadb-test
# (MYSQL_TEST) that first gives it the state a fresh server would: an empty `test` database,
# no databases or accounts but the saved ones, the saved globals (through HOST:PORT). A failed
# test leaves its tables behind, and among a thousand tests the ones after it would fail on
# them (mariadb-test-run checks and cleans up only on servers it starts itself).
if [ $clean_each = 1 ]; then
    real=$(command -v mariadb-test) || { echo "runner: mariadb-test not found" >&2; exit 2; }
    {
        echo '#!/bin/bash'
        printf 'srv=(mariadb --no-defaults --protocol=TCP -h %q -P %q -u root --connect-timeout=10 -N -B)\n' \
            "${server%:*}" "${server##*:}"
        printf 'via=(mariadb --no-defaults --protocol=TCP -h %q -P %q -u root --connect-timeout=10 -N -B)\n' \
            "$host" "$port"
        printf 'saved_settings=%q\nsaved_dbs=%q\nsaved_users=%q\n' "$saved_settings" "$saved_dbs" "$saved_users"
        printf 'state=$("${srv[@]}" -e %q 2>/dev/null)\n' "DROP DATABASE IF EXISTS test; CREATE DATABASE test;
            SELECT CONCAT($expr); SELECT '#'; SHOW DATABASES; SELECT '#';
            SELECT CONCAT(QUOTE(user), '@', QUOTE(host)) FROM mysql.user"
        cat <<'WRAPPER'
part=0
while IFS= read -r line; do
    if [ "$line" = "#" ]; then part=$((part + 1)); continue; fi
    case $part in
    0) [ "$line" = "$saved_settings" ] ||
        { "${via[@]}" -e "SET GLOBAL max_allowed_packet = 16777216" </dev/null
          "${via[@]}" -e "SET GLOBAL $saved_settings" </dev/null; } ;;
    1) grep -qxF -- "$line" <<<"$saved_dbs" || "${srv[@]}" -e "DROP DATABASE \`$line\`" </dev/null ;;
    2) grep -qxF -- "$line" <<<"$saved_users" || "${srv[@]}" -e "DROP USER $line" </dev/null ;;
    esac
done <<<"$state" >/dev/null 2>&1
WRAPPER
        printf 'exec %q "$@"\n' "$real"
    } >"$workdir/mariadb-test"
    chmod +x "$workdir/mariadb-test"
    export MYSQL_TEST=$workdir/mariadb-test
fi

# mtr_run LOG NAME...: runs the tests in one mariadb-test-run, its output in $logdir/LOG.log;
# prints "NAME RESULT REASON" lines (RESULT pass, fail, skipped or disabled) as they ran.
mtr_run() {
    local log=$logdir/$1.log
    shift
    local names=()
    for t in "$@"; do names+=("main.$t"); done
    (cd "$(dirname "$MTR")" && timeout -k 10 "$TIMEOUT" "$MTR" --extern host="$host" \
        --extern port="$port" --extern user=root --extern protocol=TCP --vardir="$workdir/var" --force \
        --max-test-fail=0 --retry=0 --no-reorder --testcase-timeout=2 "${names[@]}" \
        >"$log" 2>&1 </dev/null)
    # A failure's reason: mysqltest's error, else the first lines of the result diff.
    awk '
        function flush() { if (name != "") print name, "fail", why; name = "" }
        match($0, /^main\.[^ ]+ +(w[0-9]+ +)?\[ (pass|fail|skipped|disabled) \]/) {
            flush()
            t = $1; sub(/^main\./, "", t)
            res = $0; sub(/^[^[]*\[ /, "", res); r = res; sub(/ \].*$/, "", r)
            rest = res; sub(/^[a-z]+ \] */, "", rest)
            if (r == "fail") { name = t; why = rest; diff = 0 } else print t, r, rest
            next
        }
        name != "" && why !~ /^mysqltest/ && /^(mysqltest: )?At line [0-9]+:/ {
            why = $0; sub(/^mysqltest: /, "", why); why = "mysqltest: " why; next
        }
        name != "" && why !~ /^mysqltest/ && /^[-+][^-+]/ && diff < 4 {
            why = (diff ? why " | " : "result differs: ") substr($0, 1, 100); diff++
        }
        /^(-----|The servers were restarted)/ { flush() }
        END { flush() }
    ' "$log"
}

declare -A result=() reason=()
run=()
passed=0 failed=0 skipped=0 failed_names=""
for t in "${tests[@]}"; do
    if [ $run_all = 0 ] && [ -n "${EXCLUDED[$t]:-}" ]; then
        echo "skip $t: ${EXCLUDED[$t]}"
        skipped=$((skipped + 1))
    else
        run+=("$t")
    fi
done

start=$(date +%s)
first_failure=""
if [ ${#run[@]} -gt 0 ]; then
    fresh_test_db
    while read -r name res why; do
        result[$name]=$res reason[$name]=$why
        [ "$res" = fail ] && [ -z "$first_failure" ] && first_failure=$name
    done < <(mtr_run batch "${run[@]}")
    if [ ${#result[@]} = 0 ]; then
        echo "runner: mariadb-test-run ran no test:" >&2
        tail -n 20 "$logdir/batch.log" >&2
        exit 1
    fi
fi
for t in "${run[@]}"; do
    if [ $retry = 1 ] && [ "${result[$t]:-}" = fail ] && [ "$t" != "$first_failure" ]; then
        # Perhaps only what an earlier failure left behind: once more, alone.
        fresh_test_db
        restore_settings
        while read -r name res why; do
            [ "$name" = "$t" ] && result[$t]=$res reason[$t]="$why (alone)"
        done < <(mtr_run "alone-$t" "$t")
    fi
    case "${result[$t]:-}" in
    pass) echo "ok $t"; passed=$((passed + 1)) ;;
    skipped | disabled)
        echo "skip $t: mariadb-test-run skipped it: ${reason[$t]}"
        skipped=$((skipped + 1))
        ;;
    *)
        why=${reason[$t]:-no result (mariadb-test-run stopped or timed out)}
        echo "FAIL $t: $why"
        failed=$((failed + 1))
        failed_names="$failed_names $t"
        ;;
    esac
done
echo "summary: $passed passed, $failed failed, $skipped skipped in $(($(date +%s) - start))s"
[ $failed = 0 ] || echo "failed:$failed_names${MTR_LOG_DIR:+ (logs: $MTR_LOG_DIR)}"
[ $failed = 0 ]
