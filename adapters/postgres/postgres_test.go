package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lushan-dpf/ledger/adapters/postgres"
	"github.com/lushan-dpf/ledger/adapters/postgres/pgtest"
	"github.com/lushan-dpf/ledger/internal/pg"
)

func TestMaskURL(t *testing.T) {
	cases := map[string]string{
		"postgres://ledger:s3cret@db:5432/ledger?sslmode=require":         "postgres://ledger:xxxxx@db:5432/ledger?sslmode=require",
		"postgres://ledger@db/ledger":                                     "postgres://ledger@db/ledger",
		"esdb://admin:changeit@node1:2113,node2:2113,node3:2113?tls=true": "esdb://admin:xxxxx@node1:2113,node2:2113,node3:2113?tls=true",
		"esdb+discover://admin:p@ss:w0rd@cluster.local:2113":              "esdb+discover://admin:xxxxx@cluster.local:2113",
		"host=db user=ledger password=s3cret dbname=ledger":               "host=db user=ledger password=xxxxx dbname=ledger",
		"host=db password='with space' dbname=x":                          "host=db password=xxxxx dbname=x",
		"postgres":                                                        "postgres",
	}
	for in, want := range cases {
		got := postgres.MaskURL(in)
		if got != want {
			t.Errorf("MaskURL(%q) = %q, want %q", in, got, want)
		}
		for _, secret := range []string{"s3cret", "changeit", "w0rd", "with space"} {
			if strings.Contains(got, secret) {
				t.Errorf("MaskURL(%q) leaks %q", in, secret)
			}
		}
	}
}

// Pools are sized explicitly and name their sessions; a dedicated
// connection has the pool's settings but is no connection of the pool's.
func TestPoolConfigAndDedicatedConnections(t *testing.T) {
	t.Parallel()
	db := pgtest.NewEmptySchema(t)
	ctx := context.Background()
	cfg, err := postgres.PoolConfig("postgres://u@h/db", 0)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaxConns != postgres.DefaultMaxConns || cfg.ConnConfig.RuntimeParams["application_name"] != "ledger" ||
		cfg.ConnConfig.ConnectTimeout != postgres.DefaultConnectTimeout {
		t.Errorf("defaults: max %d, application_name %q, connect timeout %s", cfg.MaxConns,
			cfg.ConnConfig.RuntimeParams["application_name"], cfg.ConnConfig.ConnectTimeout)
	}
	cfg, err = postgres.PoolConfig(db.URL+"&application_name=pooltest&connect_timeout=3", 3)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaxConns != 3 || cfg.ConnConfig.RuntimeParams["application_name"] != "pooltest" || cfg.ConnConfig.ConnectTimeout != 3*time.Second {
		t.Errorf("chosen: max %d, application_name %q, connect timeout %s", cfg.MaxConns,
			cfg.ConnConfig.RuntimeParams["application_name"], cfg.ConnConfig.ConnectTimeout)
	}
	pool, err := postgres.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	// Hold every pooled connection: the dedicated one must not need any.
	var held []*pgxpool.Conn
	for range cfg.MaxConns {
		c, err := pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	defer func() {
		for _, c := range held {
			c.Release()
		}
	}()
	conn, err := pg.Dedicated(ctx, pool, "lock")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var app, schema string
	if err := conn.QueryRow(ctx, `SELECT current_setting('application_name'), current_schema()`).Scan(&app, &schema); err != nil {
		t.Fatal(err)
	}
	if app != "pooltest/lock" || schema != db.Name {
		t.Errorf("dedicated connection: application_name %q, schema %q; want pooltest/lock, %s", app, schema, db.Name)
	}
	if n := pool.Stat().TotalConns(); n != cfg.MaxConns {
		t.Errorf("the pool has %d connections, want its %d", n, cfg.MaxConns)
	}
}

// Event data and metadata are compressed with LZ4 where the server has
// it (migration 0005), as PostgreSQL 14 and later built with LZ4 — the
// one the Makefile provides included — do.
func TestEventsCompressWithLZ4(t *testing.T) {
	db := pgtest.NewSchema(t)
	ctx := context.Background()
	var lz4 bool
	if err := db.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals))`).Scan(&lz4); err != nil {
		t.Fatal(err)
	}
	want := map[bool]string{true: "l", false: ""}[lz4] // "": the default, pglz
	for _, col := range []string{"data", "metadata"} {
		var got string
		if err := db.Pool.QueryRow(ctx, `SELECT attcompression::text FROM pg_attribute WHERE attrelid = 'events'::regclass AND attname = $1`, col).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("events.%s compression %q, want %q (server has LZ4: %t)", col, got, want, lz4)
		}
	}
}
