package httpapi

import "github.com/go-chi/chi/v5"

// addRoutes is the API's whole surface, in one place.
func addRoutes(r chi.Router, d Deps) {
	r.NotFound(handleNotFound)
	r.MethodNotAllowed(handleMethodNotAllowed)
	r.Get("/healthz", handleHealthz(d.Version))
	r.Get("/readyz", handleReadyz(d))
	r.Get("/metrics", handleMetrics(d))
}
