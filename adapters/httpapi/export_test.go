package httpapi

import "net/http"

// InFlight is how many requests of user with key are in flight in the
// server h — the one running the command and the duplicates waiting for
// its answer. Tests use it to act once requests have arrived.
func InFlight(h http.Handler, user, key string) int {
	return h.(*api).s.flights.count(user, key)
}
