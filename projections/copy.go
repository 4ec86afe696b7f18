package projections

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// copyRows COPYs rows into table within tx. Into a fresh (empty) table,
// it drops the table's indexes first and builds them again afterwards,
// with the constraints they back, under the same names: building an index
// over a million rows at once costs about half as much as inserting them
// into it one by one. With later set, it builds only the indexes that
// back constraints (the primary key) and appends the others' definitions
// to *later, for the caller to build when it has written everything
// (createIndexes).
func copyRows(ctx context.Context, tx pgx.Tx, table string, columns []string, next copyRow, fresh bool, later *[]string) error {
	var constraints, others []string
	if fresh {
		var err error
		if constraints, others, err = dropIndexes(ctx, tx, table); err != nil {
			return err
		}
	}
	if _, err := copyBinary(ctx, tx, table, columns, next); err != nil {
		return fmt.Errorf("copy into %s: %w", table, err)
	}
	if later != nil {
		*later = append(*later, others...)
		others = nil
	}
	return createIndexes(ctx, tx, table, append(constraints, others...))
}

// dropIndexes drops the indexes of table and returns the statements that
// create them again: those of the indexes that back constraints (adding
// the constraint), and the others.
func dropIndexes(ctx context.Context, tx pgx.Tx, table string) (constraints, others []string, err error) {
	rows, err := tx.Query(ctx, `
SELECT c.conname IS NOT NULL,
       CASE WHEN c.conname IS NULL THEN 'DROP INDEX ' || i.indexrelid::regclass::text
            ELSE 'ALTER TABLE ' || i.indrelid::regclass::text || ' DROP CONSTRAINT ' || quote_ident(c.conname) END,
       CASE WHEN c.conname IS NULL THEN pg_get_indexdef(i.indexrelid)
            ELSE 'ALTER TABLE ' || i.indrelid::regclass::text || ' ADD CONSTRAINT ' || quote_ident(c.conname) || ' ' || pg_get_constraintdef(c.oid) END
FROM pg_index i LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid
WHERE i.indrelid = $1::regclass
ORDER BY c.conname IS NULL, i.indexrelid`, pgx.Identifier{table}.Sanitize())
	if err != nil {
		return nil, nil, err
	}
	type index struct {
		constraint   bool
		drop, create string
	}
	indexes, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (index, error) {
		var ix index
		return ix, row.Scan(&ix.constraint, &ix.drop, &ix.create)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("the indexes of %s: %w", table, err)
	}
	for _, ix := range indexes {
		if _, err := tx.Exec(ctx, ix.drop); err != nil {
			return nil, nil, fmt.Errorf("drop an index of %s: %w", table, err)
		}
		if ix.constraint {
			constraints = append(constraints, ix.create)
		} else {
			others = append(others, ix.create)
		}
	}
	return constraints, others, nil
}

// createIndexes runs the statements dropIndexes returned.
func createIndexes(ctx context.Context, tx pgx.Tx, table string, statements []string) error {
	for _, sql := range statements {
		if _, err := tx.Exec(ctx, sql); err != nil {
			return fmt.Errorf("build an index of %s: %w", table, err)
		}
	}
	return nil
}

// copyRow appends one row to a binary COPY stream (copyTuple and its
// fields) and reports whether it did; it returns false when there are no
// more rows, or an error.
type copyRow func(b []byte) ([]byte, bool, error)

// copyBinary COPYs the rows next gives into table's columns within tx, in
// PostgreSQL's binary COPY format, written here rather than by pgx's
// CopyFrom: pgx encodes every value through its type map, which cost a
// rebuild of the payments register about 2 µs a row; writing the few
// types below directly costs about a fifth of that.
func copyBinary(ctx context.Context, tx pgx.Tx, table string, columns []string, next copyRow) (int64, error) {
	cols := make([]string, len(columns))
	for i, c := range columns {
		cols[i] = ident(c)
	}
	sql := `COPY ` + ident(table) + ` (` + strings.Join(cols, ", ") + `) FROM STDIN WITH (FORMAT binary)`
	r := &copyReader{next: next}
	tag, err := tx.Conn().PgConn().CopyFrom(ctx, r, sql)
	if r.err != nil { // the server's error only quotes it
		return 0, r.err
	}
	return tag.RowsAffected(), err
}

// copyReader is a binary COPY stream: the header, rows as next gives
// them, the trailer. It encodes rows as they are read, a buffer at a time.
type copyReader struct {
	next    copyRow
	buf     []byte
	off     int
	started bool
	done    bool
	err     error // of next
}

const copyChunk = 64 << 10

func (r *copyReader) Read(p []byte) (int, error) {
	if r.off == len(r.buf) {
		if r.done {
			return 0, io.EOF
		}
		r.buf, r.off = r.buf[:0], 0
		if !r.started {
			r.buf = append(r.buf, "PGCOPY\n\xff\r\n\x00"...)
			r.buf = binary.BigEndian.AppendUint32(r.buf, 0) // flags
			r.buf = binary.BigEndian.AppendUint32(r.buf, 0) // header extension
			r.started = true
		}
		for len(r.buf) < copyChunk {
			var ok bool
			var err error
			if r.buf, ok, err = r.next(r.buf); err != nil {
				r.err = err
				return 0, err
			}
			if !ok {
				r.buf = binary.BigEndian.AppendUint16(r.buf, 0xffff) // trailer
				r.done = true
				break
			}
		}
	}
	n := copy(p, r.buf[r.off:])
	r.off += n
	return n, nil
}

// copyTuple starts a row of n fields.
func copyTuple(b []byte, n int) []byte { return binary.BigEndian.AppendUint16(b, uint16(n)) }

func copyText(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

func copyInt4(b []byte, v int32) []byte {
	return binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(b, 4), uint32(v))
}

func copyInt8(b []byte, v int64) []byte {
	return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint32(b, 8), uint64(v))
}

// copyDate writes the calendar date of t.
func copyDate(b []byte, t time.Time) []byte {
	const epoch = 10957 // 2000-01-01, day 0 of PostgreSQL's dates, in days since 1970-01-01
	days := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC).Unix()/86400 - epoch
	return binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(b, 4), uint32(int32(days)))
}

// copyFen writes an amount of fen as a NUMERIC with two decimals:
// base-10000 digits of the yuan, then the fen as the first fractional
// digit (PostgreSQL drops the zero digits at either end).
func copyFen(b []byte, fen int64) ([]byte, error) {
	if fen < 0 {
		return b, fmt.Errorf("copy a negative amount (%d fen)", fen)
	}
	var digits [8]uint16 // int64 yuan: at most 5 base-10000 digits, and the fen
	yuan, n := fen/100, 0
	for y := yuan; y > 0; y /= 10000 {
		n++
	}
	for i, y := n-1, yuan; i >= 0; i, y = i-1, y/10000 {
		digits[i] = uint16(y % 10000)
	}
	weight := max(n-1, 0)
	if c := fen % 100; c != 0 {
		digits[n] = uint16(c * 100)
		n++
		if yuan == 0 {
			weight = -1
		}
	}
	b = binary.BigEndian.AppendUint32(b, uint32(8+2*n))
	b = binary.BigEndian.AppendUint16(b, uint16(n))
	b = binary.BigEndian.AppendUint16(b, uint16(int16(weight)))
	b = binary.BigEndian.AppendUint16(b, 0) // sign: positive
	b = binary.BigEndian.AppendUint16(b, 2) // dscale
	for _, d := range digits[:n] {
		b = binary.BigEndian.AppendUint16(b, d)
	}
	return b, nil
}

// copyInt4Array writes v as a one-dimensional INT[] without nulls, lower
// bound 1: the header (dimensions, null flag, element type, length, lower
// bound) and each element as an INT.
func copyInt4Array(b []byte, v []int32) []byte {
	const int4OID = 23
	b = binary.BigEndian.AppendUint32(b, uint32(20+8*len(v)))
	for _, h := range []uint32{1, 0, int4OID, uint32(len(v)), 1} {
		b = binary.BigEndian.AppendUint32(b, h)
	}
	for _, x := range v {
		b = copyInt4(b, x)
	}
	return b
}
