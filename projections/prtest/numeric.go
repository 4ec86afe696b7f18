package prtest

import "github.com/jackc/pgx/v5/pgtype"

// numericText renders a NUMERIC exactly, e.g. 110.00.
func numericText(v any) (string, bool) {
	n, ok := v.(pgtype.Numeric)
	if !ok {
		return "", false
	}
	b, err := n.MarshalJSON()
	if err != nil {
		return "", false
	}
	return string(b), true
}
