#!/usr/bin/perl
# stmt_churn.pl: stmt_churn.c's protocol with DBD::mysql and mysql_server_prepare=1 (each
# prepare is a COM_STMT_PREPARE, each statement handle freed a COM_STMT_CLOSE), for
# test_stmt_close.py (issue 16).
#
# Usage: stmt_churn.pl HOST PORT USER PASSWORD CLIENTS CYCLES HOLD
#
# CLIENTS handles in one process take turns, a cycle each: prepare a text of their own,
# execute it with 7, check the value, free the handle. Each first prepares HOLD statements it
# keeps. Prints "held", waits for a line on stdin, executes the held ones again, disconnects
# and prints "ok"; a failure prints "fail ..." and exits 1.
use strict;
use warnings;
use DBI;

$| = 1;
die "usage: stmt_churn.pl HOST PORT USER PASSWORD CLIENTS CYCLES HOLD\n" unless @ARGV == 7;
my ($host, $port, $user, $pass, $n, $cycles, $hold) = @ARGV;
my $dsn = "DBI:mysql:database=test;host=$host;port=$port;mysql_server_prepare=1";

sub fail { print "fail @_\n"; exit 1 }
sub held_base { my ($no, $i) = @_; return 900000000 + $no * 1000 + $i }

sub run {
    my ($dbh, $sth, $want, $what) = @_;
    $sth->execute(7) or fail("$what: execute: " . $sth->errstr);
    my ($v) = $sth->fetchrow_array;
    $sth->finish;
    fail("$what: got " . ($v // 'NULL') . ", want $want") unless defined $v && $v == $want;
}

my (@dbh, @held);
for my $no (1 .. $n) {
    my $dbh = DBI->connect($dsn, $user, $pass, {RaiseError => 0, PrintError => 0})
        or fail("client $no: connect: $DBI::errstr");
    push @dbh, $dbh;
    push @held, [map {
        $dbh->prepare("SELECT ? + " . held_base($no, $_))
            or fail("client $no: prepare: " . $dbh->errstr)
    } 0 .. $hold - 1];
}
for my $i (0 .. $cycles - 1) {
    for my $no (1 .. $n) {
        my $base = $no * 1000000 + $i;
        my $sth = $dbh[$no - 1]->prepare("SELECT ? + $base")
            or fail("client $no: prepare: " . $dbh[$no - 1]->errstr);
        run($dbh[$no - 1], $sth, $base + 7, "client $no");
        undef $sth;    # the handle goes: DBD::mysql closes the server statement
    }
}
print "held\n";
my $line = <STDIN>;
for my $no (1 .. $n) {
    my $i = 0;
    for my $sth (@{$held[$no - 1]}) {
        run($dbh[$no - 1], $sth, held_base($no, $i++) + 7, "client $no held");
    }
    @{$held[$no - 1]} = ();
    $dbh[$no - 1]->disconnect;
}
print "ok\n";
