// The sqlite-block work's database (crates/common/src/work.rs: Database): the same table, rows
// and query, through database/sql and Debian's build of github.com/mattn/go-sqlite3 (cgo, linked
// against the system's libsqlite3). A query is a cgo call, which the runtime treats like a
// blocking system call: the calling goroutine's thread leaves its P to the others.

package main

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"

	_ "github.com/mattn/go-sqlite3"
)

const (
	// sqliteRows is the table's size (work.rs: SQLITE_ROWS).
	sqliteRows = 20_000
	// sqliteQuery is what every working message runs (work.rs: SQLITE_QUERY).
	sqliteQuery = "SELECT count(*), sum(amount) FROM orders WHERE note LIKE '%7%'"
)

// database is the built table, opened read-only through database/sql's pool of connections.
type database struct {
	path       string
	db         *sql.DB
	count, sum int64
}

func createDatabase() (*database, error) {
	path := filepath.Join(os.TempDir(),
		fmt.Sprintf("echo-bench-%d-sqlite-%d", os.Getpid(), nextTemp.Add(1)-1))
	rw, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		return nil, err
	}
	defer rw.Close()
	if _, err := rw.Exec("CREATE TABLE orders " +
		"(id INTEGER PRIMARY KEY, customer INTEGER, amount INTEGER, note TEXT)"); err != nil {
		return nil, err
	}
	tx, err := rw.Begin()
	if err != nil {
		return nil, err
	}
	insert, err := tx.Prepare("INSERT INTO orders (customer, amount, note) VALUES (?, ?, ?)")
	if err != nil {
		return nil, err
	}
	for i := 0; i < sqliteRows; i++ {
		if _, err := insert.Exec(i%97, i%1000, fmt.Sprintf("order %d for customer %d", i, i%97)); err != nil {
			return nil, err
		}
	}
	insert.Close()
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	d := &database{path: path}
	if err := rw.QueryRow(sqliteQuery).Scan(&d.count, &d.sum); err != nil {
		return nil, err
	}
	if d.db, err = sql.Open("sqlite3", "file:"+path+"?mode=ro"); err != nil {
		return nil, err
	}
	return d, nil
}

// query runs the query on a pooled connection and checks its answer.
func (d *database) query() error {
	var count, sum int64
	if err := d.db.QueryRow(sqliteQuery).Scan(&count, &sum); err != nil {
		return err
	}
	if count != d.count || sum != d.sum {
		return fmt.Errorf("query returned (%d, %d), expected (%d, %d)", count, sum, d.count, d.sum)
	}
	return nil
}

func (d *database) remove() {
	d.db.Close()
	os.Remove(d.path)
}
