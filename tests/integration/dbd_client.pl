#!/usr/bin/perl
# dbd_client.pl: DBD::mysql (Debian libdbd-mysql-perl) with its own defaults, as an
# application would use it, run through mymux or against a server directly.
#
# Usage: dbd_client.pl HOST PORT USER PASSWORD DB SERVER_PREPARE(0|1)
#
# Prints one "name<TAB>value" line per observation; test_dbd.py compares the lines of a
# direct run with those through mymux. Values that differ by nature (connection ids) are
# printed as relations ("same"/"differs") instead.
use strict;
use warnings;
use DBI;

my ($host, $port, $user, $pass, $db, $sp) = @ARGV;
die "usage: $0 HOST PORT USER PASSWORD DB SERVER_PREPARE\n" unless defined $sp;
my $dsn = "DBI:mysql:database=$db;host=$host;port=$port;mysql_server_prepare=$sp";
my %attr = (RaiseError => 1, PrintError => 0);

sub out { print join("\t", @_), "\n"; }

sub connect_one { DBI->connect($dsn, $user, $pass, {%attr}) or die $DBI::errstr; }

my $dbh = connect_one();
out("autocommit", $dbh->{AutoCommit} ? 1 : 0);

# CONNECTION_ID() through a prepared statement: the id the client knows, column name kept
my $sth = $dbh->prepare("SELECT CONNECTION_ID()");
$sth->execute;
my $row = $sth->fetchrow_hashref;
my ($col) = keys %$row;
out("connection_id_column", $col);
out("connection_id_is_thread_id", $row->{$col} == $dbh->{mysql_thread_id} ? "same" : "differs");
$sth = $dbh->prepare("SELECT CONNECTION_ID() = ?");
$sth->execute($dbh->{mysql_thread_id});
out("connection_id_param", ($sth->fetchrow_array)[0]);

# settings set through prepared statements reach the session's next statements
$dbh->do("SET time_zone = ?", undef, "+08:00");
out("time_zone", $dbh->selectrow_array("SELECT \@\@time_zone"));
$sth = $dbh->prepare("SET \@v = ?");
$sth->execute(41);
out("user_var", $dbh->selectrow_array("SELECT \@v + 1"));

# warnings: the count on the statement handle, and SHOW WARNINGS afterwards
$sth = $dbh->prepare("SELECT CAST(? AS SIGNED)");
$sth->execute("x1");
$sth->fetchall_arrayref;
out("warning_count", $sth->{mysql_warning_count});
my $w = $dbh->selectall_arrayref("SHOW WARNINGS");
out("show_warnings", join("|", map { join(",", @$_) } @$w));
out("warning_count_var", $dbh->selectrow_array("SELECT \@\@warning_count"));

# a transaction rolled back leaves nothing; one committed stays
$dbh->do("CREATE TABLE IF NOT EXISTS dbd_t (id INT PRIMARY KEY, v VARCHAR(20))");
$dbh->do("DELETE FROM dbd_t");
$dbh->begin_work;
$dbh->do("INSERT INTO dbd_t VALUES (?, ?)", undef, 1, "rolled back");
$dbh->rollback;
$dbh->begin_work;
$dbh->do("INSERT INTO dbd_t VALUES (?, ?)", undef, 2, "kept");
$dbh->commit;
out("rows", join(",", map { $_->[0] } @{$dbh->selectall_arrayref("SELECT id FROM dbd_t ORDER BY id")}));
out("last_insert_id_stmt", do {
    $dbh->do("CREATE TABLE IF NOT EXISTS dbd_ai (id INT AUTO_INCREMENT PRIMARY KEY, v INT)");
    $dbh->do("INSERT INTO dbd_ai (v) VALUES (?)", undef, 7);
    my $id = $dbh->{mysql_insertid};
    my $sql_id = $dbh->selectrow_array("SELECT LAST_INSERT_ID()");
    $id == $sql_id ? "same" : "differs $id $sql_id";
});

# KILL of one's own other session, through text (client-side placeholders) or prepared on
# the server: either way it ends that session
my $victim = connect_one();
my $vid = $victim->{mysql_thread_id};
my $ok = eval { $dbh->do("KILL ?", undef, $vid); 1 };
out("kill", $ok ? "ok" : "error " . $dbh->err);
my $alive = eval { $victim->selectrow_array("SELECT 1"); 1 };
out("victim_alive", $alive ? 1 : 0);
eval { $victim->disconnect };

$dbh->do("DROP TABLE dbd_t");
$dbh->do("DROP TABLE dbd_ai");
$dbh->disconnect;
out("done", 1);
