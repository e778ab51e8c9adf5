"""libmariadb (the real C client) through mymux: one test per client_test subtest.

client_test.c holds the checks; it is built next to mymux (build/client_test, or
$MYMUX_BUILD_DIR/client_test, e.g. MYMUX_BUILD_DIR=build-asan). With MYMUX_DIRECT=1 the
same subtests run against MariaDB directly, which is how they were validated.
"""

import os
import subprocess

import pytest

import testbed

BUILD_DIR = os.path.join(testbed.REPO, os.environ.get("MYMUX_BUILD_DIR", "build"))
CLIENT_TEST = os.path.join(BUILD_DIR, "client_test")

# The subtests of client_test.c, in its order (test_subtests_listed keeps this in step).
SUBTESTS = [
    "text_query",
    "binary_protocol",
    "reexecute",
    "cursor",
    "long_data",
    "stmt_reset",
    "stmt_close",
    "multi_statements",
    "sp_text",
    "sp_binary",
    "sp_cursor_text",
    "sp_cursor_binary",
    "rewrite_names",
    "large_packet",
    "large_packet_boundary",
    "local_infile",
    "local_infile_refused",
    "local_infile_prepared",
    "change_user",
    "change_user_bad",
    "reset_connection",
    "thread_id",
    "kill_query",
    "kill_connection",
    "ping",
    "stat",
    "select_db",
    "list_fields",
    "set_server_option",
    "warnings",
    "syntax_error",
    "many_rows",
    "transaction",
    "charset",
    "compress",
]


def _binary():
    if not os.access(CLIENT_TEST, os.X_OK):
        pytest.fail(f"{CLIENT_TEST} not built (cmake --build {BUILD_DIR} --target client_test)")
    return CLIENT_TEST


def test_subtests_listed():
    out = subprocess.run([_binary(), "--list"], capture_output=True, text=True, timeout=30,
                         check=True).stdout.split()
    assert out == SUBTESTS


@pytest.mark.parametrize("name", SUBTESTS)
def test_libmariadb(mymux, name):
    r = subprocess.run([_binary(), mymux.host, str(mymux.port), "app", "apppass", name],
                       capture_output=True, text=True, timeout=180)
    lines = r.stdout.splitlines()
    assert r.returncode == 0 and f"ok {name}" in lines, (
        f"client_test {name} exited {r.returncode}:\n{r.stdout}{r.stderr}")
    assert mymux.alive(), f"mymux died during {name}:\n{mymux.log()[-4000:]}"
