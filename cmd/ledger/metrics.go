package main

import (
	"runtime"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// processRegistry is what `ledger serve` exposes at /metrics besides the
// HTTP and projection metrics: the Go runtime (goroutines, heap, GC), the
// process (CPU, resident memory, open files), the build (the ledger's
// version, Go's, the modules') and each PostgreSQL connection pool.
func processRegistry(pools map[string]*pgxpool.Pool) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	build := prometheus.NewGauge(prometheus.GaugeOpts{Name: "ledger_build_info",
		Help:        "The ledger's build: 1, with its version and Go's as labels.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version()}})
	build.Set(1)
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewBuildInfoCollector(),
		build,
		poolCollector(pools),
	)
	return reg
}

// poolStats reads the pgxpool statistics at each scrape, by pool name.
type poolStats struct {
	pools map[string]*pgxpool.Pool
	descs map[string]*prometheus.Desc
}

func poolCollector(pools map[string]*pgxpool.Pool) prometheus.Collector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("ledger_db_pool_"+name, help, []string{"pool"}, nil)
	}
	return &poolStats{pools: pools, descs: map[string]*prometheus.Desc{
		"max":               d("max_connections", "The pool's size."),
		"total":             d("connections", "Connections open, idle or in use."),
		"acquired":          d("acquired_connections", "Connections in use."),
		"idle":              d("idle_connections", "Connections open and idle."),
		"acquires":          d("acquires_total", "Connections acquired from the pool."),
		"acquire_seconds":   d("acquire_seconds_total", "Time spent waiting for a connection."),
		"empty_acquires":    d("empty_acquires_total", "Acquires that waited because no connection was idle."),
		"canceled_acquires": d("canceled_acquires_total", "Acquires given up (the request's context ended)."),
		"new":               d("new_connections_total", "Connections opened."),
	}}
}

func (c *poolStats) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c *poolStats) Collect(ch chan<- prometheus.Metric) {
	for name, p := range c.pools {
		if p == nil {
			continue
		}
		s := p.Stat()
		g := func(key string, v float64) {
			ch <- prometheus.MustNewConstMetric(c.descs[key], prometheus.GaugeValue, v, name)
		}
		n := func(key string, v float64) {
			ch <- prometheus.MustNewConstMetric(c.descs[key], prometheus.CounterValue, v, name)
		}
		g("max", float64(s.MaxConns()))
		g("total", float64(s.TotalConns()))
		g("acquired", float64(s.AcquiredConns()))
		g("idle", float64(s.IdleConns()))
		n("acquires", float64(s.AcquireCount()))
		n("acquire_seconds", s.AcquireDuration().Seconds())
		n("empty_acquires", float64(s.EmptyAcquireCount()))
		n("canceled_acquires", float64(s.CanceledAcquireCount()))
		n("new", float64(s.NewConnsCount()))
	}
}
