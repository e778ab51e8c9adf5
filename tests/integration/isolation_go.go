// isolation_go: one session of Go's MySQL driver (go-sql-driver/mysql, its defaults) driven
// line by line, for the session isolation battery (test_isolation.py, issue 9).
//
// Usage: isolation_go HOST PORT USER PASSWORD DATABASE
//
// Holds one database/sql Conn (one server session) and speaks isolation_ps's protocol:
//
//	q SQL              a query without arguments (the driver sends it as text)
//	once SQL [ARG...]  a query with arguments as applications write it: the driver's default
//	                   (interpolateParams=false) prepares it on the server, executes and closes
//	prep SQL           Conn.PrepareContext; answers "ok SLOT 0"
//	exec SLOT [ARG...] executes a prepared slot
//	execi SLOT [INT...] the same with int64 arguments (sent as MYSQL_TYPE_LONGLONG)
//	execall SLOT [ARG...] exec, reading every row first: an error anywhere in the answer
//	                   is the answer (exec reports the first value as soon as it has it)
//	quit
//
// Answers "ok", "ok<TAB>VALUE" (first column of the first row; "\N" for NULL or no row) or
// "err<TAB>CODE<TAB>MESSAGE"; "ready" once connected.
package main

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"
)

func answerErr(err error) {
	var me *mysql.MySQLError
	code := uint16(0)
	if errors.As(err, &me) {
		code = me.Number
	}
	msg := strings.NewReplacer("\n", " ", "\t", " ").Replace(err.Error())
	fmt.Printf("err\t%d\t%s\n", code, msg)
}

// answerRows prints the first value of the first result set that has columns.
func answerRows(rows *sql.Rows, err error) {
	answerRowsOf(rows, err, false)
}

// answerRowsOf: strict holds the answer back until the whole answer was read, so
// that an error after the first row is what it prints.
func answerRowsOf(rows *sql.Rows, err error, strict bool) {
	if err != nil {
		answerErr(err)
		return
	}
	defer rows.Close()
	answered := false
	for {
		cols, err := rows.Columns()
		if err != nil {
			answerErr(err)
			return
		}
		if len(cols) > 0 && !answered {
			vals := make([]sql.RawBytes, len(cols))
			ptrs := make([]interface{}, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			line := "ok\t\\N"
			if rows.Next() {
				if err := rows.Scan(ptrs...); err != nil {
					answerErr(err)
					return
				}
				if vals[0] != nil {
					line = fmt.Sprintf("ok\t%s", vals[0])
				}
			}
			for strict && rows.Next() {
			}
			if strict && rows.Err() != nil {
				answerErr(rows.Err())
				return
			}
			fmt.Println(line)
			answered = true
		}
		for rows.Next() {
		}
		if !rows.NextResultSet() {
			break
		}
	}
	if err := rows.Err(); err != nil {
		if !answered {
			answerErr(err)
		}
		return
	}
	if !answered {
		fmt.Println("ok")
	}
}

func args(fields []string) []interface{} {
	out := make([]interface{}, len(fields))
	for i, f := range fields {
		out[i] = f
	}
	return out
}

func main() {
	if len(os.Args) != 6 {
		fmt.Fprintf(os.Stderr, "usage: %s HOST PORT USER PASSWORD DATABASE\n", os.Args[0])
		os.Exit(2)
	}
	ctx := context.Background()
	dsn := fmt.Sprintf("%s:%s@tcp(%s:%s)/%s", os.Args[3], os.Args[4], os.Args[1], os.Args[2],
		os.Args[5])
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		answerErr(err)
		os.Exit(1)
	}
	conn, err := db.Conn(ctx)
	if err == nil {
		err = conn.PingContext(ctx)
	}
	if err != nil {
		answerErr(err)
		os.Exit(1)
	}
	fmt.Println("ready")

	var stmts []*sql.Stmt
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 65536), 1<<20)
	for in.Scan() {
		f := strings.Split(in.Text(), "\t")
		switch {
		case f[0] == "quit":
			conn.Close()
			db.Close()
			return
		case f[0] == "q" && len(f) == 2:
			answerRows(conn.QueryContext(ctx, f[1]))
		case f[0] == "once" && len(f) >= 2:
			answerRows(conn.QueryContext(ctx, f[1], args(f[2:])...))
		case f[0] == "prep" && len(f) == 2:
			s, err := conn.PrepareContext(ctx, f[1])
			if err != nil {
				answerErr(err)
				continue
			}
			stmts = append(stmts, s)
			fmt.Printf("ok\t%d\t0\n", len(stmts)-1)
		case f[0] == "execi" && len(f) >= 2:
			var slot int
			if _, err := fmt.Sscan(f[1], &slot); err != nil || slot < 0 || slot >= len(stmts) {
				fmt.Println("err\t0\tno such slot")
				continue
			}
			ints := make([]interface{}, len(f)-2)
			bad := false
			for i, a := range f[2:] {
				n, err := strconv.ParseInt(a, 10, 64)
				bad = bad || err != nil
				ints[i] = n
			}
			if bad {
				fmt.Println("err\t0\tnot an integer")
				continue
			}
			answerRows(stmts[slot].QueryContext(ctx, ints...))
		case (f[0] == "exec" || f[0] == "execall") && len(f) >= 2:
			var slot int
			if _, err := fmt.Sscan(f[1], &slot); err != nil || slot < 0 || slot >= len(stmts) {
				fmt.Println("err\t0\tno such slot")
				continue
			}
			rows, err := stmts[slot].QueryContext(ctx, args(f[2:])...)
			answerRowsOf(rows, err, f[0] == "execall")
		default:
			fmt.Println("err\t0\tbad command")
		}
	}
	conn.Close()
	db.Close()
}
