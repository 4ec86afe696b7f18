package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lushan-dpf/ledger/adapters/httpapi"
	"github.com/lushan-dpf/ledger/adapters/postgres"
	"github.com/lushan-dpf/ledger/adapters/postgres/pgtest"
	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/internal/benchenv"
	"github.com/lushan-dpf/ledger/projections"
)

// BenchmarkEntitlementLookup measures a caseworker's look-up of a person's
// entitlements over HTTP (GET /v1/persons/{id}/entitlements, with a bearer
// token, from 32 concurrent clients over loopback) beside its floor, the
// same SQL query issued through pgx by 32 goroutines, against read models
// holding LEDGER_BENCH_PERSONS persons (default 1,000; `make bench` uses
// 100,000) with two entitlements and a year of payments each. Rounds
// alternate floor and API, LEDGER_BENCH_SECONDS each (default 1), and the
// medians of LEDGER_BENCH_RUNS rounds (default 1) are reported.
func BenchmarkEntitlementLookup(b *testing.B) {
	persons := benchenv.Size(b, "LEDGER_BENCH_PERSONS", 1000)
	secs := benchenv.Size(b, "LEDGER_BENCH_SECONDS", 1)
	runs := benchenv.Size(b, "LEDGER_BENCH_RUNS", 1)
	const clients = 32
	ctx := context.Background()
	db := pgtest.NewSchema(b)
	if _, err := db.Pool.Exec(ctx, projections.EntitlementsProjection{}.Schema()); err != nil {
		b.Fatal(err)
	}
	// Read models as the projection would leave them, written in bulk.
	for _, q := range []string{`
		INSERT INTO persons SELECT lpad(to_hex(i), 20, '0'), 'h' || i, '360429********' || lpad(i::text, 4, '0'),
			'居民' || i, (ARRAY['蛟塘镇','星子镇','白鹿镇','温泉镇'])[1 + i % 4], lpad(to_hex(i), 20, '0'), '', true, false, false,
			DATE '1960-01-01' + (i % 20000), 'female', 'physical', 2, '360429**********4221', DATE '2020-01-01', DATE '2030-01-01',
			false, NULL, DATE '2023-12-01', '1/1'
		FROM generate_series(1, $1::int) i`, `
		INSERT INTO entitlements SELECT lpad(to_hex(i), 20, '0'), p, 'active', NULL, DATE '2024-01-01', NULL, NULL, NULL, '2024-12',
			1200.00, 0, 0, '1/1'
		FROM generate_series(1, $1::int) i, unnest(ARRAY['living_subsidy','care_subsidy']) p`, `
		INSERT INTO entitlement_paid SELECT lpad(to_hex(i), 20, '0'), p, '2024-' || lpad(m::text, 2, '0'), 100.00, 1
		FROM generate_series(1, $1::int) i, unnest(ARRAY['living_subsidy','care_subsidy']) p, generate_series(1, 12) m`,
	} {
		if _, err := db.Pool.Exec(ctx, q, persons); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := db.Pool.Exec(ctx, `ANALYZE persons; ANALYZE entitlements; ANALYZE entitlement_paid`); err != nil {
		b.Fatal(err)
	}
	token, err := postgres.Users{Pool: db.Pool}.Add(ctx, "bench", "clerk")
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(httpapi.NewServer(onPool(db.Pool, httpapi.Deps{Log: slog.New(slog.DiscardHandler), LookupKey: testKey})))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}}
	pid := func(r *rand.Rand) string { return fmt.Sprintf("%020x", 1+r.IntN(persons)) }

	// load runs fn from 32 goroutines for secs and returns requests/s and
	// the latency percentiles.
	load := func(fn func(r *rand.Rand) error) (rps, p50, p99 float64) {
		var mu sync.Mutex
		var lat []time.Duration
		deadline := time.Now().Add(time.Duration(secs) * time.Second)
		var wg sync.WaitGroup
		start := time.Now()
		for c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(c), 99))
				var mine []time.Duration
				for time.Now().Before(deadline) {
					t0 := time.Now()
					if err := fn(r); err != nil {
						b.Error(err)
						return
					}
					mine = append(mine, time.Since(t0))
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			}()
		}
		wg.Wait()
		elapsed := time.Since(start)
		slices.Sort(lat)
		if len(lat) == 0 {
			b.Fatal("no requests completed")
		}
		ms := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) / 1000 }
		return float64(len(lat)) / elapsed.Seconds(), ms(0.50), ms(0.99)
	}
	floor := func(r *rand.Rand) error {
		rows, err := projections.EntitlementsWithPaid(ctx, db.Pool, domain.PersonID(pid(r)))
		if err == nil && len(rows) != 2 {
			err = fmt.Errorf("floor query returned %d rows", len(rows))
		}
		return err
	}
	api := func(r *rand.Rand) error {
		req, _ := http.NewRequest("GET", srv.URL+"/v1/persons/"+pid(r)+"/entitlements", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = ioDiscard(resp)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("API answered %d", resp.StatusCode)
		}
		return nil
	}
	m := map[string][]float64{}
	for range runs {
		rps, p50, p99 := load(floor)
		m["floor_rps"], m["floor_p50_ms"], m["floor_p99_ms"] = append(m["floor_rps"], rps), append(m["floor_p50_ms"], p50), append(m["floor_p99_ms"], p99)
		rps, p50, p99 = load(api)
		m["api_rps"], m["api_p50_ms"], m["api_p99_ms"] = append(m["api_rps"], rps), append(m["api_p50_ms"], p50), append(m["api_p99_ms"], p99)
	}
	b.ResetTimer()
	for range b.N {
	}
	for name, v := range m {
		b.ReportMetric(benchenv.Median(v), name)
	}
}

// ioDiscard reads the body to its end, so the connection is reused,
// through io.Discard's pooled buffer: a buffer made per request would be
// the client's garbage, charged to the API's side of the comparison.
func ioDiscard(resp *http.Response) (int64, error) {
	defer resp.Body.Close()
	return io.Copy(io.Discard, resp.Body)
}
