package postgres_test

import (
	"strings"
	"testing"

	"github.com/lushan-dpf/ledger/adapters/postgres"
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
