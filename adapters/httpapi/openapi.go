package httpapi

import (
	_ "embed"
	"net/http"
)

// openAPI is the API's OpenAPI 3.1 document; openapi_test.go checks that it
// describes exactly the routes in routes.go, with their roles.
//
//go:embed openapi.json
var openAPI []byte

func handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPI)
}
