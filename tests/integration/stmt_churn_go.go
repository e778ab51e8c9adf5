// stmt_churn_go: stmt_churn.c's protocol with Go's database/sql and go-sql-driver/mysql (its
// defaults, interpolateParams=false, so a query with arguments is prepared on the server,
// executed and closed), for test_stmt_close.py (issue 16).
//
// Usage: stmt_churn_go HOST PORT USER PASSWORD THREADS CYCLES HOLD
//
// Each of THREADS sessions (one database/sql Conn each) prepares HOLD statements it keeps,
// then runs CYCLES texts of its own, even cycles through Conn.PrepareContext/Stmt.Close and
// odd ones as Conn.QueryRowContext with an argument. Prints "held" and waits for a line on
// stdin, then executes the held statements again, closes everything and prints "ok"; a
// failure prints "fail ..." and exits 1.
package main

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"strconv"
	"sync"

	_ "github.com/go-sql-driver/mysql"
)

type client struct {
	no   int
	conn *sql.Conn
	held []*sql.Stmt
	err  error
}

func heldBase(no, i int) int64 { return 900000000 + int64(no)*1000 + int64(i) }

func check(got, want int64) error {
	if got != want {
		return fmt.Errorf("got %d, want %d", got, want)
	}
	return nil
}

func (c *client) churn(ctx context.Context, db *sql.DB, cycles, hold int) {
	var err error
	if c.conn, err = db.Conn(ctx); err != nil {
		c.err = err
		return
	}
	for i := 0; i < hold; i++ {
		st, err := c.conn.PrepareContext(ctx, fmt.Sprintf("SELECT ? + %d", heldBase(c.no, i)))
		if err != nil {
			c.err = err
			return
		}
		c.held = append(c.held, st)
	}
	for i := 0; i < cycles; i++ {
		base := int64(c.no)*1000000 + int64(i)
		q := fmt.Sprintf("SELECT ? + %d", base)
		var v int64
		if i%2 == 0 {
			st, err := c.conn.PrepareContext(ctx, q)
			if err != nil {
				c.err = err
				return
			}
			err = st.QueryRowContext(ctx, 7).Scan(&v)
			st.Close()
			if err != nil {
				c.err = err
				return
			}
		} else if err := c.conn.QueryRowContext(ctx, q, 7).Scan(&v); err != nil {
			c.err = err
			return
		}
		if c.err = check(v, base+7); c.err != nil {
			return
		}
	}
}

func (c *client) finish(ctx context.Context) {
	for i, st := range c.held {
		var v int64
		if c.err = st.QueryRowContext(ctx, 7).Scan(&v); c.err != nil {
			return
		}
		if c.err = check(v, heldBase(c.no, i)+7); c.err != nil {
			return
		}
		st.Close()
	}
	c.err = c.conn.Close()
}

func runAll(cl []*client, fn func(*client)) bool {
	var wg sync.WaitGroup
	for _, c := range cl {
		wg.Add(1)
		go func(c *client) { defer wg.Done(); fn(c) }(c)
	}
	wg.Wait()
	for _, c := range cl {
		if c.err != nil {
			fmt.Printf("fail client %d: %v\n", c.no, c.err)
			return false
		}
	}
	return true
}

func main() {
	if len(os.Args) != 8 {
		fmt.Fprintln(os.Stderr, "usage: stmt_churn_go HOST PORT USER PASSWORD THREADS CYCLES HOLD")
		os.Exit(2)
	}
	n, _ := strconv.Atoi(os.Args[5])
	cycles, _ := strconv.Atoi(os.Args[6])
	hold, _ := strconv.Atoi(os.Args[7])
	dsn := fmt.Sprintf("%s:%s@tcp(%s:%s)/test", os.Args[3], os.Args[4], os.Args[1], os.Args[2])
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		fmt.Printf("fail open: %v\n", err)
		os.Exit(1)
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	ctx := context.Background()
	cl := make([]*client, n)
	for i := range cl {
		cl[i] = &client{no: i + 1}
	}
	if !runAll(cl, func(c *client) { c.churn(ctx, db, cycles, hold) }) {
		os.Exit(1)
	}
	fmt.Println("held")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		os.Exit(1)
	}
	if !runAll(cl, func(c *client) { c.finish(ctx) }) {
		os.Exit(1)
	}
	db.Close()
	fmt.Println("ok")
}
