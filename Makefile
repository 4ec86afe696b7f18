# The benefits ledger. `make help` lists the targets.
#
# With DATABASE_URL unset, targets that need PostgreSQL get one from
# scripts/dev-postgres.sh: a local server if one answers, else a private
# throwaway cluster in .pgdata/ (installing Debian's postgresql first when
# run as root and the binaries are missing).

SHELL         := bash
.SHELLFLAGS   := -eu -o pipefail -c
GO            ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
VERSION       ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS       := -X main.version=$(VERSION)
DEV_DB        ?= ledger_dev
TEST_DB       ?= ledger_test
# A count, not a duration: a fuzzing run bounded by time can end with
# "context deadline exceeded" when a worker is slow to stop on a busy
# machine; a count of inputs ends when they are done.
FUZZTIME      ?= 50000x
GOLANGCI      := github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

.PHONY: run
run: ## migrate, load the lushan-2024 demo county into an empty ledger (docs/demo.md), and serve on the embedded PostgreSQL store (LEDGER_ADDR, default 127.0.0.1:8080)
	@url=$$(scripts/dev-postgres.sh url $(DEV_DB)) && \
	DATABASE_URL="$$url" $(GO) run -ldflags '$(LDFLAGS)' ./cmd/ledger seed --scenario lushan-2024 --if-empty --demo-users && \
	DATABASE_URL="$$url" $(GO) run -ldflags '$(LDFLAGS)' ./cmd/ledger serve

.PHONY: test
# The long sequential flows (the demo county seeded on each store, a
# 100,000-person payroll month) run without the race detector, which would
# make them five times slower and has nothing to find in them; every test
# with concurrency in it runs under it.
# The payroll simulation (never paid twice, on random histories) runs on
# its own, verbosely, so that its budget and each history's counts show.
WHOLE_FLOWS := ^(TestSeedLushan2024ShowsThePublishedFigures|TestSeedLushan2024OnEventStoreDB|TestPayrollMonthStaysWithinTheBounds)$$
SIMULATION := ^TestPayrollSimulation$$

test: vet lint lint-openapi ## vet, lint (the import rules of .golangci.yml), the OpenAPI document with Redocly, every test with the race detector against a real PostgreSQL and the web desk's in headless Chromium (installed when missing: scripts/chromium.sh) (the demo county on both stores and a 100,000-person payroll month without it), every benchmark once at tiny size, short fuzzing
	@url=$$(scripts/dev-postgres.sh url $(TEST_DB)) && \
	chromium=$$(scripts/chromium.sh) && export LEDGER_CHROMIUM="$$chromium" && \
	DATABASE_URL="$$url" $(GO) test -race -count=1 -timeout 20m -skip '$(WHOLE_FLOWS)|$(SIMULATION)' ./... && \
	DATABASE_URL="$$url" $(GO) test -race -count=1 -timeout 15m -run '$(SIMULATION)' -v ./app && \
	DATABASE_URL="$$url" $(GO) test -count=1 -timeout 10m -run '$(WHOLE_FLOWS)' ./cmd/ledger ./app && \
	DATABASE_URL="$$url" $(GO) test -run '^$$' -bench . -benchtime 1x -timeout 10m ./...
	$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZTIME)

.PHONY: screenshots
screenshots: ## take the web desk's screenshots at 1366×768 in headless Chromium into docs/ui (the browser tests, scripts/chromium.sh installs Chromium)
	@url=$$(scripts/dev-postgres.sh url $(TEST_DB)) && \
	LEDGER_CHROMIUM=$$(scripts/chromium.sh) LEDGER_UI_SCREENSHOTS=$(CURDIR)/docs/ui DATABASE_URL="$$url" \
	$(GO) test -count=1 -run '^TestBrowser' ./adapters/web

.PHONY: bench
bench: ## run the benchmarks beside their floors and Emmett (npm ci in scripts/emmett) in about 20 minutes, then rebuild every read model of a province (seeded into ledger_bench_province_1000000 on the first run), and write docs/benchmarks.md
	@url=$$(scripts/dev-postgres.sh url ledger_bench) && \
	DATABASE_URL="$$url" GO=$(GO) scripts/bench.sh

.PHONY: test-esdb
test-esdb: ## the event-store contract suite and every whole flow against a real EventStoreDB at LEDGER_ESDB_URL (each test in a namespace of its own)
	@test -n "$${LEDGER_ESDB_URL:-}" || { echo "set LEDGER_ESDB_URL, e.g. LEDGER_ESDB_URL='esdb://127.0.0.1:2113?tls=false' (docker compose up -d starts one)"; exit 2; }
	$(GO) test -race -count=1 -tags esdbreal -run 'TestContractRealServer' -v ./adapters/esdb
	@url=$$(scripts/dev-postgres.sh url $(TEST_DB)) && \
	DATABASE_URL="$$url" $(GO) test -count=1 -timeout 30m ./app ./projections ./cmd/ledger ./adapters/httpapi

.PHONY: vet
vet: ## go vet
	$(GO) vet ./...

.PHONY: fuzz
fuzz: ## fuzz ID-number, money, payroll line event and bank return file parsing (FUZZTIME inputs each, default 50000x; a duration such as 30s works too)
	$(GO) test -run '^$$' -fuzz '^FuzzParseResidentID$$' -fuzztime $(FUZZTIME) ./domain
	$(GO) test -run '^$$' -fuzz '^FuzzParseMoney$$' -fuzztime $(FUZZTIME) ./domain
	$(GO) test -run '^$$' -fuzz '^FuzzLineCodec$$' -fuzztime $(FUZZTIME) ./domain
	$(GO) test -run '^$$' -fuzz '^FuzzReadReturn$$' -fuzztime $(FUZZTIME) ./adapters/bankfile

.PHONY: lint
lint: vet ## go vet and golangci-lint (incl. the import-direction rules in .golangci.yml)
	$(GO) run $(GOLANGCI) run ./...

.PHONY: lint-openapi
lint-openapi: ## lint adapters/httpapi/openapi.json with Redocly CLI (pinned in scripts/openapi-lint, installed by npm ci; needs Node.js and the npm registry)
	@cd scripts/openapi-lint && { test -x node_modules/.bin/redocly || npm ci --no-audit --no-fund --silent; } && \
	./node_modules/.bin/redocly lint --config redocly.yaml ../../adapters/httpapi/openapi.json

.PHONY: build
build: ## build bin/ledger
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/ledger ./cmd/ledger

.PHONY: db-url
db-url: ## print the development database URL (starting a server if need be)
	@scripts/dev-postgres.sh url $(DEV_DB)

.PHONY: clean-db
clean-db: ## stop and delete the private PostgreSQL cluster, if one was started
	scripts/dev-postgres.sh stop
	rm -rf .pgdata
