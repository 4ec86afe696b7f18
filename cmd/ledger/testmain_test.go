package main

import (
	"fmt"
	"os"
	"runtime/pprof"
	"testing"
)

// runAsLedger, set in a child's environment, makes the test binary the
// ledger itself: the payroll benchmark runs each command as its own process
// so that the command's peak memory is its own. With
// LEDGER_TEST_CPUPROFILE=DIR too, each such command writes its CPU profile
// into DIR, named for its process.
const runAsLedger = "LEDGER_TEST_RUN_AS_LEDGER"

func TestMain(m *testing.M) {
	if os.Getenv(runAsLedger) == "1" {
		if dir := os.Getenv("LEDGER_TEST_CPUPROFILE"); dir != "" {
			f, err := os.Create(fmt.Sprintf("%s/%s-%d.pprof", dir, os.Args[1], os.Getpid()))
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			defer f.Close()
			defer pprof.StopCPUProfile()
		}
		main()
		return
	}
	os.Exit(m.Run())
}
