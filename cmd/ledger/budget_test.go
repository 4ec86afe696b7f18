package main

import (
	"strings"
	"testing"
)

// TestBudgetAllocate: a finance officer allocates a program's budget from
// the command line, on both stores; the budgets read model shows it once
// projected; the same budget again is refused, the same key replays, and
// bad input names the flag and changes nothing.
func TestBudgetAllocate(t *testing.T) {
	for _, store := range []string{"pg", "esdb"} {
		t.Run(store, func(t *testing.T) {
			l := newCLILedger(t, store)
			out := l.must("budget", "allocate", "--program", "living_subsidy", "--year", "2025", "--amount", "3600000.00", "--user", "fin.li", "--key", "b-1", "--reason", "县财政〔2025〕12号")
			if !strings.Contains(out, "allocated 3600000.00 to living_subsidy for 2025") {
				t.Errorf("allocate printed %q", out)
			}
			if out := l.must("budget", "allocate", "--program", "living_subsidy", "--year", "2025", "--amount", "3600000.00", "--user", "fin.li", "--key", "b-1"); !strings.Contains(out, "ran before") {
				t.Errorf("the same key again printed %q, want a replay", out)
			}
			if _, _, err := l.run("budget", "allocate", "--program", "living_subsidy", "--year", "2025", "--amount", "3600000.00", "--user", "fin.li"); err == nil || !strings.Contains(err.Error(), "already") {
				t.Errorf("the same budget under a new key: %v, want a conflict", err)
			}
			l.must("budget", "allocate", "--program", "living_subsidy", "--year", "2025", "--amount", "3800000.00", "--user", "fin.li")
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
