package projections

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lushan-dpf/ledger/adapters/postgres/pgtest"
)

// TestCopyBinaryWritesWhatPostgreSQLReads: the binary COPY encoders give
// PostgreSQL the values a text insert would: dates on either side of
// 2000-01-01 and in leap years, amounts of every digit pattern up to
// NUMERIC(16,2)'s largest, texts in any script.
func TestCopyBinaryWritesWhatPostgreSQLReads(t *testing.T) {
	t.Parallel()
	db := pgtest.NewSchema(t)
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, `CREATE TABLE c (i int NOT NULL, t text NOT NULL, d date NOT NULL, n int NOT NULL, b bigint NOT NULL, a numeric(16,2) NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	dates := []time.Time{
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1899, 12, 31, 0, 0, 0, 0, time.UTC),
		time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC), time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2000, 2, 29, 0, 0, 0, 0, time.UTC), time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2025, 12, 31, 23, 59, 0, 0, time.FixedZone("CST", 8*3600)), time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC),
	}
	fens := []int64{0, 1, 9, 10, 99, 100, 101, 110_00, 9999_99, 10000_00, 10000_01, 12345_67, 1_0000_0000_00,
		1_0000_0001_00, 99_9999_9999_99, 9999_9999_9999_99, 100_0000_0000_00}
	texts := []string{"", "a", "星子镇", "tab\there", `back\slash`, "new\nline", "lsk3fq7aa1b2c3d4e5f60718293a2501"}
	type row struct {
		t    string
		d    time.Time
		n    int32
		b    int64
		fen  int64
		want string
	}
	var rows []row
	for i := range max(len(dates), len(fens), len(texts)) {
		r := row{t: texts[i%len(texts)], d: dates[i%len(dates)], n: int32(i*7919 - 40000), b: int64(i)<<40 - 5, fen: fens[i%len(fens)]}
		r.want = fmt.Sprintf("%d|%s|%s|%d|%d|%d.%02d", i, r.t, r.d.Format(time.DateOnly), r.n, r.b, r.fen/100, r.fen%100)
		rows = append(rows, r)
	}
	err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		i := -1
		n, err := copyBinary(ctx, tx, "c", []string{"i", "t", "d", "n", "b", "a"}, func(b []byte) ([]byte, bool, error) {
			if i++; i == len(rows) {
				return b, false, nil
			}
			r := rows[i]
			b = copyTuple(b, 6)
			b = copyInt4(b, int32(i))
			b = copyText(b, r.t)
			b = copyDate(b, r.d)
			b = copyInt4(b, r.n)
			b = copyInt8(b, r.b)
			b, err := copyFen(b, r.fen)
			return b, true, err
		})
		if err == nil && n != int64(len(rows)) {
			err = fmt.Errorf("copied %d rows, want %d", n, len(rows))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := db.Pool.Query(ctx, `SELECT concat_ws('|', i, t, to_char(d, 'YYYY-MM-DD'), n, b, a) FROM c ORDER BY i`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(res, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, r := range rows {
		want = append(want, r.want)
	}
	if !slices.Equal(got, want) {
		t.Errorf("read back\n%q\nwant\n%q", got, want)
	}
	// A negative amount is refused before it reaches the database.
	if _, err := copyFen(nil, -1); err == nil {
		t.Error("copyFen(-1) wrote a negative amount")
	}
}

// TestCopyBinaryStopsOnARowError: an error from a row ends the COPY with
// that error, and nothing is written.
func TestCopyBinaryStopsOnARowError(t *testing.T) {
	t.Parallel()
	db := pgtest.NewSchema(t)
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, `CREATE TABLE c (i int NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("row 70000 is bad")
	err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		i := 0
		_, err := copyBinary(ctx, tx, "c", []string{"i"}, func(b []byte) ([]byte, bool, error) {
			if i++; i == 70000 { // after several buffers were sent
				return b, false, boom
			}
			return copyInt4(copyTuple(b, 1), int32(i)), true, nil
		})
		return err
	})
	if !errors.Is(err, boom) {
		t.Fatalf("COPY ended with %v, want %v", err, boom)
	}
	var n int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM c`).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d rows written (%v)", n, err)
	}
}
