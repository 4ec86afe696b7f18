package domain

import "encoding/json"

// Chunks splits items into runs, in order, whose JSON encodings together
// take at most maxBytes each, so that an event carrying one run stays
// within MaxEventBytes however many items there are. An item whose own
// encoding exceeds maxBytes makes a run alone. nil for no items.
func Chunks[T any](items []T, maxBytes int) [][]T {
	var out [][]T
	start, size := 0, 0
	var buf []byte
	for i := range items {
		var n int
		if f, ok := any(&items[i]).(jsonAppender); ok {
			buf = f.appendJSON(buf[:0])
			n = len(buf) + 1 // the comma between items
		} else if b, err := json.Marshal(items[i]); err == nil {
			n = len(b) + 1
		} else {
			n = maxBytes // cannot happen for the ledger's types; keep it alone
		}
		if i > start && size+n > maxBytes {
			out = append(out, items[start:i:i])
			start, size = i, 0
		}
		size += n
	}
	if start < len(items) {
		out = append(out, items[start:len(items):len(items)])
	}
	return out
}
