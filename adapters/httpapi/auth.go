package httpapi

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
)

// Role is what a user may do. Every route declares the roles it allows.
type Role string

const (
	RoleClerk    Role = "clerk"    // caseworker: registers people and records their changes, proposes grants
	RoleApprover Role = "approver" // approves or rejects proposed grants (never their own)
	RoleFinance  Role = "finance"  // payroll, bank files, spending
	RoleAuditor  Role = "auditor"  // reads everything, including full history; changes nothing
	RoleAdmin    Role = "admin"    // everything
)

// Roles lists every role.
var Roles = []Role{RoleClerk, RoleApprover, RoleFinance, RoleAuditor, RoleAdmin}

// ParseRole parses a role name.
func ParseRole(s string) (Role, bool) {
	r := Role(s)
	return r, slices.Contains(Roles, r)
}

// User is an authenticated caller.
type User struct {
	Name string
	Role Role
}

// ErrUnauthenticated: no token, or an unknown or disabled one.
var ErrUnauthenticated = errors.New("unauthenticated")

// Authenticator resolves a bearer token to its user. The default is a
// UserStore's look-up (postgres.Users, which stores tokens only as
// hashes).
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (User, error)
}

type userKey struct{}

// UserFrom returns the authenticated user of a request.
func UserFrom(ctx context.Context) (User, bool) {
	u, ok := ctx.Value(userKey{}).(User)
	return u, ok
}

// bearerToken returns the token of an Authorization header of the Bearer
// scheme, whose name is case-insensitive (RFC 9110, section 11.1).
func bearerToken(h string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	token = strings.TrimSpace(token)
	return token, ok && strings.EqualFold(scheme, "Bearer") && token != ""
}

// requireRoles authenticates the bearer token and admits the listed roles.
func requireRoles(auth Authenticator, allowed []Role, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearerToken(r.Header.Get("Authorization"))
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="ledger"`)
			problem(w, http.StatusUnauthorized, "unauthenticated", "send Authorization: Bearer TOKEN (`ledger user add NAME --role ROLE` issues one)")
			return
		}
		u, err := auth.Authenticate(r.Context(), token)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="ledger", error="invalid_token"`)
			if errors.Is(err, ErrUnauthenticated) {
				problem(w, http.StatusUnauthorized, "unauthenticated", "the token is unknown or disabled")
			} else {
				writeError(w, r, err)
			}
			return
		}
		if !slices.Contains(allowed, u.Role) && u.Role != RoleAdmin {
			problem(w, http.StatusForbidden, "forbidden", "role "+string(u.Role)+" may not "+r.Method+" this resource")
			return
		}
		setLogUser(r.Context(), u)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey{}, u)))
	})
}
