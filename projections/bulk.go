package projections

// bulkLimits bound how much a write holds and how it writes. Zero fields
// take the defaults.
type bulkLimits struct {
	// copyMin: the new rows from which a write COPYs them rather than
	// inserting them from arrays in its pipeline.
	copyMin int
}

func (l bulkLimits) withDefaults() bulkLimits {
	if l.copyMin <= 0 {
		l.copyMin = 2000
	}
	return l
}
