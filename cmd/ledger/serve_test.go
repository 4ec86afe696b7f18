package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/lushan-dpf/ledger/adapters/postgres/pgtest"
	"github.com/lushan-dpf/ledger/projections"
)

// serveForTest runs `ledger serve` on db until the test ends and returns
// its address once it answers.
func serveForTest(t *testing.T, db *pgtest.Schema) string {
	t.Helper()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	env := getenvFrom(map[string]string{"DATABASE_URL": db.URL, "LEDGER_ADDR": addr, "LEDGER_LOOKUP_KEY": devLookupKey})
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, env, &out, &errOut) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("serve returned %v", err)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			return addr
		}
		select {
		case err := <-done:
			t.Fatalf("serve returned before serving: %v\n%s", err, errOut.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not come up: %v\n%s", err, errOut.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// readyUntil polls /readyz until cond holds for its projections, or fails
// after 30 s.
func readyUntil(t *testing.T, addr, what string, cond func(projections.Status) bool) []projections.Status {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var body struct {
			Projections []projections.Status `json:"projections"`
		}
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("/readyz: %d, %v", resp.StatusCode, err)
		}
		ok := len(body.Projections) == len(projections.All())
		for _, s := range body.Projections {
			ok = ok && cond(s)
		}
		if ok {
			return body.Projections
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz never showed %s: %+v", what, body.Projections)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// metrics returns the samples of /metrics by name and labels.
func metrics(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// /readyz and /metrics count an event committed behind an append in
// flight as lag, and show it held back.
func TestServeShowsEventsHeldBehindAnAppendInFlight(t *testing.T) {
	l := newCLILedger(t, "pg")
	l.registerSomeone()
	db := l.db
	addr := serveForTest(t, db)
	readyUntil(t, addr, "the first registration applied", func(s projections.Status) bool {
		return s.EventsApplied == 1 && s.LagEvents == 0
	})

	tx, pid := holdRegistration(t, db)
	readyUntil(t, addr, "one event of lag held back by the append in flight", func(s projections.Status) bool {
		return s.LagEvents == 1 && s.HeldBackEvents == 1 && s.HeldBy != nil && s.HeldBy.PID == pid
	})
	m := metrics(t, addr)
	for _, p := range projections.All() {
		for _, name := range []string{"ledger_projection_lag_events", "ledger_projection_held_back_events"} {
			key := fmt.Sprintf("%s{projection=%q}", name, p.Name())
			if v, ok := m[key]; !ok || v != 1 {
				t.Errorf("%s = %v (present %v), want 1", key, v, ok)
			}
		}
	}
	if v := m["ledger_event_store_append_in_flight_seconds"]; v <= 0 {
		t.Errorf("ledger_event_store_append_in_flight_seconds = %v, want the held append's age", v)
	}
	// The container's healthcheck: ledger health asks /readyz.
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"health", "--url", "http://" + addr + "/readyz"}, getenvFrom(nil), &out, &errOut); err != nil ||
		!strings.Contains(out.String(), "200 OK") {
		t.Errorf("ledger health: %v %q %q", err, out.String(), errOut.String())
	}
	if err := run(context.Background(), []string{"health", "--url", "http://" + addr + "/nowhere"}, getenvFrom(nil), &out, &errOut); err == nil ||
		!strings.Contains(err.Error(), "404") {
		t.Errorf("ledger health of a 404: %v, want an error naming the status", err)
	}
	// Standard metrics beside the ledger's own: the Go runtime, the
	// process, each connection pool, and requests by method, route and
	// status.
	for _, key := range []string{"go_goroutines", "process_resident_memory_bytes", `ledger_db_pool_max_connections{pool="requests"}`,
		`ledger_db_pool_max_connections{pool="projections"}`, `ledger_http_requests_total{code="200",method="GET",route="/readyz"}`,
		`ledger_http_request_duration_seconds_bucket{method="GET",route="/readyz",le="60"}`} {
		if v, ok := m[key]; !ok || v <= 0 {
			t.Errorf("%s = %v (present %v), want a positive sample", key, v, ok)
		}
	}
	if !slices.ContainsFunc(slices.Collect(maps.Keys(m)), func(k string) bool {
		return strings.HasPrefix(k, "ledger_build_info{") && strings.Contains(k, `version="`)
	}) {
		t.Errorf("no ledger_build_info with a version label")
	}
	// The exposition is what promtool check metrics accepts (the same
	// linter, promlint).
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	problems, err := promlint.New(resp.Body).Lint()
	resp.Body.Close()
	if err != nil || len(problems) > 0 {
		t.Errorf("promlint: %v %+v", err, problems)
	}

	if err := tx.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	readyUntil(t, addr, "every registration applied after the commit", func(s projections.Status) bool {
		return s.EventsApplied == 3 && s.LagEvents == 0 && s.HeldBackEvents == 0
	})
	m = metrics(t, addr)
	if v, ok := m["ledger_event_store_append_in_flight_seconds"]; !ok || v != 0 {
		t.Errorf("after the commit ledger_event_store_append_in_flight_seconds = %v (present %v), want 0", v, ok)
	}
}
