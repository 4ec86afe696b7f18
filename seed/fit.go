package seed

import (
	"fmt"
	"math/rand/v2"
)

// caseOf is a case with its person.
type caseOf struct {
	p *person
	c *mcase
}

// fitMonths moves the adjustable starts and ends of cases, one month at a
// time and at random, until they are owed target months in all. Only cases
// without a suspension are moved, so that each move changes the total by
// exactly one month.
func fitMonths(r *rand.Rand, what string, cases []caseOf, target int) error {
	total := 0
	var adj []caseOf
	for _, x := range cases {
		total += x.c.monthsOwed(x.p)
		if (x.c.adjStart || x.c.adjEnd) && x.c.suspend == 0 {
			adj = append(adj, x)
		}
	}
	for tries := 0; total != target; tries++ {
		if tries > 1_000_000 || len(adj) == 0 {
			return fmt.Errorf("seed plan: %s: cannot bring %d months to %d", what, total, target)
		}
		x := adj[r.IntN(len(adj))]
		c, last := x.c, min(x.p.endMonth(x.c.program), 12)
		if c.end > 0 {
			last = min(last, c.end)
		}
		before := c.monthsOwed(x.p)
		switch {
		case total > target && c.adjStart && c.start < c.maxStart && c.start < last:
			c.start++
		case total > target && c.adjEnd && c.end > c.minEnd && c.end > c.start:
			c.end--
		case total < target && c.adjStart && c.start > c.minStart:
			c.start--
		case total < target && c.adjEnd && c.end < c.maxEnd && c.end < x.p.endMonth(c.program) && c.end < 12:
			c.end++
		default:
			continue
		}
		total += c.monthsOwed(x.p) - before
	}
	return nil
}
