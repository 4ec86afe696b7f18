package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// TestComposeFileIsValid loads docker-compose.yml with compose-go, the
// library `docker compose config` runs (these machines have no container
// engine): it validates the file against the Compose specification's
// schema, interpolates it and resolves it into a project. The project must
// run the ledger, PostgreSQL and KurrentDB, each with a healthcheck, start
// the ledger only once both stores are healthy, have it listen on every
// interface inside its container and hand it every key from the
// environment.
func TestComposeFileIsValid(t *testing.T) {
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "docker-compose.yml")
	content, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	details := types.ConfigDetails{
		WorkingDir:  dir,
		ConfigFiles: []types.ConfigFile{{Filename: file, Content: content}},
		Environment: types.Mapping{"LEDGER_MASTER_KEY": "from-the-environment"},
	}
	p, err := loader.LoadWithContext(context.Background(), details, func(o *loader.Options) {
		o.SetProjectName("ledger", true)
		o.SkipConsistencyCheck = false
	})
	if err != nil {
		t.Fatalf("docker compose config would refuse docker-compose.yml: %v", err)
	}
	for _, name := range []string{"ledger", "postgres", "kurrentdb"} {
		s, ok := p.Services[name]
		if !ok {
			t.Fatalf("no service %s", name)
		}
		if s.HealthCheck == nil || len(s.HealthCheck.Test) == 0 || s.HealthCheck.Disable {
			t.Errorf("service %s has no healthcheck", name)
		}
	}
	ledger := p.Services["ledger"]
	for _, store := range []string{"postgres", "kurrentdb"} {
		if d, ok := ledger.DependsOn[store]; !ok || d.Condition != types.ServiceConditionHealthy {
			t.Errorf("the ledger does not wait for %s to be healthy: %+v", store, d)
		}
	}
	env := func(k string) string {
		if v := ledger.Environment[k]; v != nil {
			return *v
		}
		return ""
	}
	if !strings.HasPrefix(env("LEDGER_ADDR"), "0.0.0.0:") {
		t.Errorf("LEDGER_ADDR = %q: unreachable from outside the container", env("LEDGER_ADDR"))
	}
	if env("LEDGER_MASTER_KEY") != "from-the-environment" || !strings.HasPrefix(env("LEDGER_EVENTSTORE"), "esdb://kurrentdb:") {
		t.Errorf("the ledger's environment: %v", ledger.Environment)
	}
	for _, k := range []string{"LEDGER_LOOKUP_KEY", "LEDGER_ACCOUNT_KEY", "LEDGER_MASTER_KEY"} {
		if _, ok := ledger.Environment[k]; !ok {
			t.Errorf("the ledger is not given %s", k)
		}
	}
	if ledger.Build == nil || !strings.HasPrefix(p.Services["kurrentdb"].Image, "kurrentplatform/kurrentdb:26.") {
		t.Errorf("ledger built from the Dockerfile, KurrentDB 26.x: build %+v, image %s", ledger.Build, p.Services["kurrentdb"].Image)
	}
}
