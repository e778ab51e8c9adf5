"""LOAD DATA LOCAL INFILE inside a multi-statement text (issue 16).

The classifier describes a multi-statement text by its first statement; mymux relays a
server's LOCAL INFILE request only for a file a statement of the text named, so the names of
later statements are read too. Before, a LOAD after the first statement was refused with an
error numbered 1 (after results numbered higher) and the connection was lost. Every case runs
through mymux and against the server directly, with PyMySQL and the mariadb CLI.
"""

import os
import tempfile

import pymysql
import pytest
from pymysql.constants import CLIENT

import testbed


@pytest.fixture(params=["mymux", "direct"])
def target(request, mymux, backends):
    if request.param == "direct":
        b = backends[0]
        return type("T", (), {"host": b.host, "port": b.port})
    return mymux


@pytest.fixture
def files():
    paths = []
    for k, n in ((1, 300), (2, 200)):
        fd, path = tempfile.mkstemp(suffix=f"-{k}.csv")
        with os.fdopen(fd, "w") as f:
            for i in range(1, n + 1):
                f.write(f"{k * 10000 + i},v{i}\n")
        paths.append(path)
    yield paths
    for p in paths:
        os.unlink(p)


def connect(t, **kw):
    return testbed.connect_tcp(t.host, t.port, database="test", autocommit=True,
                               client_flag=CLIENT.MULTI_STATEMENTS, **kw)


def results(cur):
    """Every result of the text: rows, or the affected count."""
    out = []
    while True:
        out.append(cur.fetchall() if cur.description else cur.rowcount)
        if not cur.nextset():
            return out


def fresh(c, name):
    with c.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {name}")
        cur.execute(f"CREATE TABLE {name} (id INT PRIMARY KEY, v VARCHAR(20))")


def test_later_statement_loads(target, files):
    c = connect(target, local_infile=True)
    try:
        fresh(c, "li_multi1")
        with c.cursor() as cur:
            cur.execute("SELECT 1; "
                        f"LOAD DATA LOCAL INFILE '{files[0]}' INTO TABLE li_multi1 "
                        "FIELDS TERMINATED BY ','; SELECT COUNT(*) FROM li_multi1")
            assert results(cur) == [((1,),), 300, ((300,),)]
            cur.execute("SELECT 2")
            assert cur.fetchall() == ((2,),)
    finally:
        c.close()


def test_two_loads_of_two_files(target, files):
    c = connect(target, local_infile=True)
    try:
        fresh(c, "li_multi2")
        with c.cursor() as cur:
            cur.execute(f"LOAD DATA LOCAL INFILE '{files[0]}' INTO TABLE li_multi2 "
                        "FIELDS TERMINATED BY ',';\n"
                        f"  load data local infile '{files[1]}' into table li_multi2 "
                        "fields terminated by ','; SELECT COUNT(*), SUM(id DIV 10000) FROM li_multi2")
            assert results(cur) == [300, 200, ((500, 700),)]
    finally:
        c.close()


def test_without_local_files_refused_and_usable(target, files):
    """A client that did not negotiate CLIENT_LOCAL_FILES gets an error packet (the server's
    4166; mymux refuses the text before it runs) and keeps its connection; the file is not
    read."""
    c = connect(target, local_infile=False)
    try:
        fresh(c, "li_multi3")
        with c.cursor() as cur:
            with pytest.raises(pymysql.err.MySQLError) as ei:
                cur.execute("DO 1; "
                            f"LOAD DATA LOCAL INFILE '{files[0]}' INTO TABLE li_multi3 "
                            "FIELDS TERMINATED BY ','")
                results(cur)
            assert ei.value.args[0] == 4166, ei.value.args  # MariaDB 10.11's code
            cur.execute("SELECT COUNT(*) FROM li_multi3")
            assert cur.fetchall() == ((0,),)
    finally:
        c.close()


def test_cli_multi_statement_load(target, files):
    """The mariadb CLI sends everything up to its delimiter as one text."""
    r = testbed.run_cli(target.host, target.port,
                        ["--local-infile=1", "-N", "test"],
                        input="DROP TABLE IF EXISTS li_cli; "
                              "CREATE TABLE li_cli (id INT PRIMARY KEY, v VARCHAR(20));\n"
                              "DELIMITER //\n"
                              f"SELECT 'a'; LOAD DATA LOCAL INFILE '{files[1]}' INTO TABLE li_cli "
                              "FIELDS TERMINATED BY ','; SELECT COUNT(*) FROM li_cli //\n"
                              "DELIMITER ;\nSELECT SUM(id) FROM li_cli;\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["a", "200", str(sum(20000 + i for i in range(1, 201)))]


@pytest.mark.proxy_only
def test_unread_name_refused_in_sequence(mymux, files):
    """A text longer than mymux's 16 KiB buffer is classified on its first part only, so the
    name of a later LOAD is unknown to mymux and the server's request for it is refused: the
    first statement's result arrives, then an error packet numbered as the request was (before:
    numbered 1, which PyMySQL reports as a broken protocol). The session then ends; the file
    is never sent."""
    c = connect(mymux, local_infile=True)
    try:
        fresh(c, "li_multi4")
        with c.cursor() as cur:
            cur.execute(f"SELECT LENGTH('{'x' * 20000}'); "
                        f"LOAD DATA LOCAL INFILE '{files[0]}' INTO TABLE li_multi4 "
                        "FIELDS TERMINATED BY ','")
            assert cur.fetchall() == ((20000,),)
            with pytest.raises(pymysql.err.MySQLError) as ei:
                cur.nextset()
            assert ei.value.args[0] == 1148, ei.value.args
    finally:
        c.close()
    c = connect(mymux)
    try:
        with c.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM li_multi4")
            assert cur.fetchall() == ((0,),)
    finally:
        c.close()
