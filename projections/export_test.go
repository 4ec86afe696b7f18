package projections

// SetBulkLimits sets the limits of r's rebuild loaders (bulkLimits): the
// payment marks of a spending rebuild's windows and the payments of a
// payments rebuild's, and the new rows from which a write COPYs them.
// Zero takes the default.
func SetBulkLimits(r *Runner, spendingMarks, paymentRows, copyMin int) {
	r.bulk = bulkLimits{spendingMarks: spendingMarks, paymentRows: paymentRows, copyMin: copyMin}
}
