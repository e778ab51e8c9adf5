"""The `mariadb` command-line client (libmariadb underneath) through mymux."""

import os
import tempfile

import pytest


def ok(r):
    assert r.returncode == 0, f"exit {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    return r.stdout


def test_execute_select_1(mymux):
    out = ok(mymux.cli(["-e", "select 1"]))
    assert out.splitlines() == ["1", "1"]  # header then value (batch output)


def test_execute_skip_column_names(mymux):
    out = ok(mymux.cli(["-N", "-e", "select 40 + 2, 'two words'"]))
    assert out == "42\ttwo words\n"


def test_wrong_password(mymux):
    r = mymux.cli(["-e", "select 1"], password="wrong")
    assert r.returncode != 0
    assert "ERROR 1045" in r.stderr, r.stderr


def test_connect_with_database(mymux):
    out = ok(mymux.cli(["-N", "-e", "select database()", "test2"]))
    assert out == "test2\n"


def test_batch_multiline_script(mymux):
    script = """
        DROP TABLE IF EXISTS cli_t;
        CREATE TABLE cli_t (
            id INT PRIMARY KEY,
            name VARCHAR(20)
        );
        INSERT INTO cli_t VALUES (1, 'one'),
                                 (2, 'two');
        SELECT id, name
          FROM cli_t
         ORDER BY id;
        SELECT COUNT(*) AS n FROM cli_t;
        DROP TABLE cli_t;
    """
    out = ok(mymux.cli(["--batch", "test"], input=script))
    assert out.splitlines() == ["id\tname", "1\tone", "2\ttwo", "n", "2"]


def test_batch_stops_at_error(mymux):
    r = mymux.cli(["--batch", "-N"], input="SELECT 'before';\nSELEC oops;\nSELECT 'after';\n")
    assert r.returncode == 1
    assert r.stdout == "before\n"
    assert "ERROR 1064" in r.stderr


def test_batch_force_continues_after_error(mymux):
    r = mymux.cli(["--batch", "-N", "--force"],
                  input="SELECT 'before';\nSELEC oops;\nSELECT 'after';\n")
    assert r.stdout == "before\nafter\n"
    assert "ERROR 1064" in r.stderr


def test_source_file(mymux):
    fd, path = tempfile.mkstemp(suffix=".sql")
    with os.fdopen(fd, "w") as f:
        f.write("DROP PROCEDURE IF EXISTS cli_p;\n"
                "DELIMITER //\n"
                "CREATE PROCEDURE cli_p()\nBEGIN\n  SELECT 'from proc' AS a;\n"
                "  SELECT 1 + 1 AS b;\nEND //\n"
                "DELIMITER ;\n"
                "CALL cli_p();\n"
                "DROP PROCEDURE cli_p;\n")
    try:
        out = ok(mymux.cli(["--batch", "-N", "test", "-e", f"source {path}"]))
        assert out == "from proc\n2\n"
    finally:
        os.unlink(path)


def test_status_command(mymux):
    # `status` uses COM_STATISTICS (mysql_stat) among other things.
    out = ok(mymux.cli(["-e", "status"]))
    assert "Uptime:" in out and "Threads:" in out, out
    assert "Connection id:" in out


def test_multiple_statements_in_one_execute(mymux):
    out = ok(mymux.cli(["-N", "-e", "select 1; select 2; select 3"]))
    assert out == "1\n2\n3\n"


def test_large_result(mymux):
    out = ok(mymux.cli(["-N", "-e", "select seq from test.seq_1_to_100000"]))
    lines = out.splitlines()
    assert len(lines) == 100000 and lines[-1] == "100000"


def test_large_value(mymux):
    out = ok(mymux.cli(["-N", "--max-allowed-packet=64M", "-e",
                        "select repeat('c', 17 * 1024 * 1024)"]))
    assert out == "c" * (17 * 1024 * 1024) + "\n"


def test_load_data_local_infile(mymux):
    fd, path = tempfile.mkstemp(suffix=".tsv")
    with os.fdopen(fd, "w") as f:
        for i in range(1, 501):
            f.write(f"{i}\tv{i}\n")
    try:
        out = ok(mymux.cli(["--local-infile=1", "-N", "test", "-e",
                            "DROP TABLE IF EXISTS cli_li; "
                            "CREATE TABLE cli_li (id INT, v VARCHAR(10)); "
                            f"LOAD DATA LOCAL INFILE '{path}' INTO TABLE cli_li; "
                            "SELECT COUNT(*), SUM(id) FROM cli_li; DROP TABLE cli_li"]))
        assert out == "500\t125250\n"
    finally:
        os.unlink(path)


def test_warnings_shown(mymux):
    out = ok(mymux.cli(["--show-warnings", "-N", "-e", "select cast('7x' as signed)"]))
    assert out.startswith("7\n")
    assert "1292" in out


@pytest.mark.parametrize("user,password", [("app", "apppass"), ("other", "otherpass")])
def test_users(mymux, user, password):
    out = ok(mymux.cli(["-N", "-e", "select current_user()"], user=user, password=password))
    assert out == f"{user}@%\n"


def test_mixed_clients_share_the_pool(mymux):
    # pymysql does not negotiate CLIENT_DEPRECATE_EOF and libmariadb (the CLI) does: pooled
    # backend connections must never hand one the other's result-set terminators.
    for i in range(5):
        c = mymux.connect()
        try:
            with c.cursor() as cur:
                cur.execute("SELECT seq FROM test.seq_1_to_3")
                assert cur.fetchall() == ((1,), (2,), (3,))
        finally:
            c.close()
        out = ok(mymux.cli(["-N", "-e", "select seq from test.seq_1_to_3; select 'x'"]))
        assert out == "1\n2\n3\nx\n"


def test_compression_requested_by_client(mymux):
    # mymux does not compress (yet): it must not advertise CLIENT_COMPRESS, so a client asking
    # for it falls back to the plain protocol instead of failing.
    out = ok(mymux.cli(["--compress", "-N", "-e", "select 'compressed?', count(*) "
                        "from test.seq_1_to_1000"]))
    assert out == "compressed?\t1000\n"
