package main

import (
	"strings"
	"testing"
)

// TestBudgetAllocate: a finance officer proposes a program's budget from
// the command line and another allocates it (the proposer may not), on
// both stores; the budgets read model shows it once projected; the same
// budget again is refused, the same key replays, a rejection needs a
// reason, and bad input names the flag and changes nothing.
func TestBudgetAllocate(t *testing.T) {
	for _, store := range []string{"pg", "esdb"} {
		t.Run(store, func(t *testing.T) {
			l := newCLILedger(t, store)
			out := l.must("budget", "allocate", "--program", "living_subsidy", "--year", "2025", "--amount", "3600000.00", "--user", "fin.li", "--key", "b-1", "--reason", "县财政〔2025〕12号")
			if !strings.Contains(out, "proposed 3600000.00 to living_subsidy for 2025") {
				t.Errorf("allocate printed %q", out)
			}
			if out := l.must("budget", "allocate", "--program", "living_subsidy", "--year", "2025", "--amount", "3600000.00", "--user", "fin.li", "--key", "b-1"); !strings.Contains(out, "ran before") {
				t.Errorf("the same key again printed %q, want a replay", out)
			}
			if _, _, err := l.run("budget", "allocate", "--program", "living_subsidy", "--year", "2025", "--amount", "3700000.00", "--user", "fin.li"); err == nil || !strings.Contains(err.Error(), "already waiting") {
				t.Errorf("a second proposal while one waits: %v, want a conflict", err)
			}
			if out := l.must("budget", "show", "--program", "living_subsidy"); !strings.Contains(out, "living_subsidy 2025 3600000.00 proposed by fin.li, waiting for approval") {
				t.Errorf("budget show while waiting: %q", out)
			}
			if _, _, err := l.run("budget", "approve", "--program", "living_subsidy", "--year", "2025", "--user", "fin.li"); err == nil || !strings.Contains(err.Error(), "another finance user") {
				t.Errorf("the proposer approves: %v, want maker_checker", err)
			}
			if out := l.must("budget", "approve", "--program", "living_subsidy", "--year", "2025", "--user", "fin.wu"); !strings.Contains(out, "living_subsidy's budget for 2025 allocated") {
				t.Errorf("approve printed %q", out)
			}
			if _, _, err := l.run("budget", "allocate", "--program", "living_subsidy", "--year", "2025", "--amount", "3600000.00", "--user", "fin.li"); err == nil || !strings.Contains(err.Error(), "already") {
				t.Errorf("the same budget under a new key: %v, want a conflict", err)
			}
			l.must("budget", "allocate", "--program", "living_subsidy", "--year", "2025", "--amount", "3900000.00", "--user", "fin.li")
			if _, _, err := l.run("budget", "reject", "--program", "living_subsidy", "--year", "2025", "--user", "fin.wu"); exitCode(err) != 2 || !strings.Contains(err.Error(), "--reason") {
				t.Errorf("reject without a reason: %v", err)
			}
			l.must("budget", "reject", "--program", "living_subsidy", "--year", "2025", "--user", "fin.wu", "--reason", "待县财政批复")
			l.must("budget", "allocate", "--program", "living_subsidy", "--year", "2025", "--amount", "3800000.00", "--user", "fin.li")
			l.must("budget", "approve", "--program", "living_subsidy", "--year", "2025", "--user", "fin.wu")
			for _, c := range []struct {
				args []string
				want string
			}{
				{[]string{"--program", "pension", "--year", "2025", "--amount", "1.00", "--user", "u"}, "program"},
				{[]string{"--program", "living_subsidy", "--year", "1999", "--amount", "1.00", "--user", "u"}, "fiscal_year"},
				{[]string{"--program", "living_subsidy", "--year", "2025", "--amount", "-1", "--user", "u"}, "amount"},
				{[]string{"--program", "living_subsidy", "--year", "2025", "--amount", "1.00"}, "--user"},
			} {
				if _, _, err := l.run(append([]string{"budget", "allocate"}, c.args...)...); exitCode(err) != 2 || !strings.Contains(err.Error(), c.want) {
					t.Errorf("%v: %v (exit %d), want a usage error naming %s", c.args, err, exitCode(err), c.want)
				}
			}
			if out := l.must("budget", "show", "--program", "living_subsidy"); strings.TrimSpace(out) != "living_subsidy 2025 3800000.00" {
				t.Errorf("budget show: %q", out)
			}
			l.must("project", "--once")
			var allocated string
			if err := l.db.Pool.QueryRow(l.ctx, `SELECT allocated::text FROM budgets WHERE program = 'living_subsidy' AND fiscal_year = 2025`).Scan(&allocated); err != nil || allocated != "3800000.00" {
				t.Errorf("budgets read model: %q, %v; want 3800000.00", allocated, err)
			}
		})
	}
}
