// Package web is the web desk: server-rendered pages in simplified
// Chinese for the federation's staff — caseworkers, finance officers and
// auditors — served by `ledger serve` beside the JSON API, on the same
// use cases and read models. Templates and assets are embedded: the
// ledger serves every byte itself (no CDN, no front-end build).
//
// Staff sign in with a user name and password; a session cookie
// (HttpOnly, SameSite=Strict, Secure under TLS) carries them, ends after
// an idle timeout or at sign-out, and every form carries the session's
// CSRF token. The Content-Security-Policy allows scripts and styles from
// the ledger only, and no inline script.
package web

import (
	"context"
	"crypto/subtle"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/lushan-dpf/ledger/app"
	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
	"github.com/lushan-dpf/ledger/reports"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Session is a signed-in member of staff.
type Session struct {
	User, Role string
	CSRF       string // the token every form of the session must carry
}

// Accounts signs staff in and out and keeps their sessions; cmd/ledger
// wires it to the users table (adapters/postgres).
type Accounts interface {
	// SignIn checks a user name and password and opens a session, whose
	// cookie value it returns. Wrong credentials are ErrBadCredentials; a
	// user locked out after repeated failures is a *LockedError.
	SignIn(ctx context.Context, name, password string, now time.Time) (id string, s Session, err error)
	// Session returns the live session id names, idle no longer than
	// idle (else ErrNoSession), and marks it used.
	Session(ctx context.Context, id string, idle time.Duration, now time.Time) (Session, error)
	SignOut(ctx context.Context, id string) error
	// ChangePassword sets a user's new password once the current one
	// checks out (ErrBadCredentials if not); a bad new password is a field
	// error (domain.ErrInvalid). It ends every session of the user, this
	// one too: they sign in again with the new password.
	ChangePassword(ctx context.Context, name, current, next string, now time.Time) error
}

// ErrBadCredentials: wrong user name or password (or none set).
var ErrBadCredentials = errors.New("用户名或密码不正确")

// ErrNoSession: the cookie names no live session.
var ErrNoSession = errors.New("no live session")

// LockedError: too many failed sign-ins; try again at Until.
type LockedError struct{ Until time.Time }

func (e *LockedError) Error() string {
	return fmt.Sprintf("登录失败次数过多，请于 %s 之后再试", e.Until.In(domain.BusinessZone).Format("15:04"))
}

// PersonQueries are the read models the caseworker's pages read;
// projections.ReadModels implements them. A person that does not exist
// is an error matching domain.ErrNotFound.
type PersonQueries interface {
	PersonByHash(ctx context.Context, idHash string) (projections.PersonRow, error)
	PersonByID(ctx context.Context, id domain.PersonID) (projections.PersonRow, error)
	PersonsByID(ctx context.Context, ids []domain.PersonID) ([]projections.PersonRow, error)
	SearchPersons(ctx context.Context, name, township string, limit, offset int) ([]projections.PersonRow, error)
	EntitlementsWithPaid(ctx context.Context, id domain.PersonID) ([]projections.EntitlementRow, error)
	PaymentsByPerson(ctx context.Context, id domain.PersonID) ([]projections.PaymentRow, error)
}

// Deps is what the desk needs.
type Deps struct {
	Accounts Accounts
	Persons  PersonQueries
	Commands PersonCommands
	Loader   PersonLoader
	Payroll  PayrollDesk
	Spending reports.SpendingReadModels
	// Verifications are the recorded runs of `ledger verify`.
	Verifications VerifyRecords
	// Notices are the change notices issued, whose files NoticeSource
	// produces again.
	Notices      NoticeArchive
	Finance      FinanceQueries
	NoticeSource app.NoticeSource
	Fresh        Freshness
	LookupKey    domain.LookupKey
	Log          *slog.Logger
	Now          func() time.Time
	// IdleTimeout ends a session not used for so long (default 30
	// minutes).
	IdleTimeout time.Duration
	// SecureCookies marks the session cookie Secure also when the request
	// did not arrive over TLS here (TLS ends at a reverse proxy).
	SecureCookies bool
}

// DefaultIdleTimeout ends a session after half an hour without a request.
const DefaultIdleTimeout = 30 * time.Minute

const (
	sessionCookie    = "ledger_session"
	loginCSRFCookie  = "ledger_login"
	pageSize         = 50
	requestTimeout   = 30 * time.Second
	maxFormBodyBytes = 64 << 10
)

type desk struct {
	Deps
	pages map[string]*template.Template
}

// New returns the desk's handler, for every path the API does not serve.
func New(d Deps) (http.Handler, error) {
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.IdleTimeout <= 0 {
		d.IdleTimeout = DefaultIdleTimeout
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	k := &desk{Deps: d, pages: pages}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	r := chi.NewRouter()
	r.Use(k.logRequests, middleware.Recoverer, securityHeaders, middleware.Timeout(requestTimeout))
	r.Handle("/static/*", http.StripPrefix("/static/", cacheStatic(http.FileServerFS(static))))
	r.Get("/login", k.loginPage)
	r.Post("/login", k.login)
	r.Group(func(r chi.Router) {
		r.Use(k.requireSession)
		r.Get("/", k.home)
		r.Post("/logout", k.logout)
		r.Get("/password", k.passwordPage)
		r.Post("/password", k.changePassword)
		r.Post("/validate/{field}", k.validateField)
		// Every page and action checks the role, as the API's routes do.
		r.Get("/persons", k.searchPersons)
		r.Post("/persons/find", k.findPerson)
		r.Get("/persons/{id}", k.personPage)
		r.With(k.only(caseworker)).Get("/persons/new", k.registerPage)
		r.With(k.only(caseworker)).Post("/persons", k.register)
		r.With(k.only(caseworker)).Post("/persons/{id}/grants", k.proposeGrant)
		r.With(k.only(func(role string) bool { return caseworker(role) || approver(role) })).Post("/persons/{id}/actions/{action}", k.personAction)
		r.With(k.only(approver)).Post("/persons/{id}/grants/{proposal}/{decision}", k.decideGrant)
		r.With(k.only(auditor)).Get("/persons/{id}/history", k.historyPage)
		r.With(k.only(auditor)).Get("/audit", k.auditPage)
		r.With(k.only(readsNotices)).Get("/notices", k.noticesPage)
		r.With(k.only(readsNotices)).Get("/notices/{department}/{notice}/file", k.noticeFile)
		r.With(k.only(seesMoney)).Get("/payroll", k.payrollPage)
		r.With(k.only(seesMoney)).Get("/payroll/batches/{batch}", k.batchPage)
		r.With(k.only(seesMoney)).Get("/payroll/batches/{batch}/lines", k.batchLines)
		r.With(k.only(seesMoney)).Get("/spending", k.spendingPage)
		r.With(k.only(seesMoney)).Get("/spending/export", k.spendingExport)
		r.With(k.only(seesMoney)).Get("/payroll/claims", k.claimsPage)
		r.With(k.only(finance)).Post("/payroll/claims/{claim}/{action}", k.settleClaim)
		r.With(k.only(finance)).Post("/payroll/batches", k.draftBatch)
		r.With(k.only(finance)).Post("/payroll/batches/{batch}/approve", k.approveBatch)
		r.With(k.only(finance)).Post("/payroll/batches/{batch}/export", k.exportBatch)
		r.With(k.only(finance)).Post("/payroll/batches/{batch}/returns", k.reconcileBatch)
	})
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		k.fail(w, r, http.StatusNotFound, "页面不存在", "没有这个页面。")
	})
	return r, nil
}

// securityHeaders: no script or style but the ledger's own, no framing,
// no caching of pages that show personal data.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
			"form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		if !strings.HasPrefix(r.URL.Path, "/static/") {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

func cacheStatic(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		next.ServeHTTP(w, r)
	})
}

// logRequests logs each request by its route pattern — never the raw
// path or query, which may hold a name — with the user, the status and
// the duration in milliseconds.
func (k *desk) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)
		route := "(unknown)"
		if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
			route = rc.RoutePattern()
		}
		user := ""
		if s, ok := r.Context().Value(sessionKey{}).(Session); ok {
			user = s.User
		}
		k.Log.Info("desk request", slog.String("method", r.Method), slog.String("route", route), slog.String("user", user),
			slog.Int("status", ww.Status()), slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000))
	})
}

type sessionKey struct{}

// sessionOf returns the request's session (set by requireSession).
func sessionOf(r *http.Request) Session {
	s, _ := r.Context().Value(sessionKey{}).(Session)
	return s
}

// requireSession lets a request through with a live session (else to the
// sign-in page) and, for a form, with the session's CSRF token.
func (k *desk) requireSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(sessionCookie)
		var s Session
		if err == nil {
			s, err = k.Accounts.Session(r.Context(), c.Value, k.IdleTimeout, k.Now())
		}
		if errors.Is(err, ErrNoSession) || errors.Is(err, http.ErrNoCookie) {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/login?next="+safeNext(r.URL.Path), http.StatusSeeOther)
				return
			}
			k.fail(w, r, http.StatusUnauthorized, "请重新登录", "会话已结束，请重新登录。")
			return
		}
		if err != nil {
			k.failErr(w, r, err)
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), sessionKey{}, s))
		if r.Method == http.MethodPost {
			limit := int64(maxFormBodyBytes)
			if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
				limit = maxReturnFile + 1<<20 // a bank's return file
			}
			r.Body = http.MaxBytesReader(w, r.Body, limit)
			if !sameToken(r.PostFormValue("csrf"), s.CSRF) || crossSite(r) {
				k.fail(w, r, http.StatusForbidden, "请求被拒绝", "表单已过期或来自其他网站，请返回刷新页面后重试。")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// only lets through the roles allowed (else 403).
func (k *desk) only(allowed func(role string) bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !allowed(sessionOf(r).Role) {
				k.forbidden(w, r)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// crossSite reports a request a browser says came from another site.
func crossSite(r *http.Request) bool {
	site := r.Header.Get("Sec-Fetch-Site")
	return site != "" && site != "same-origin" && site != "none"
}

func sameToken(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// safeNext keeps a return path on this site.
func safeNext(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\\r\n") {
		return "/"
	}
	return p
}

// roles that may see a person's payments, as in the API.
func seesMoney(role string) bool { return role == "finance" || role == "auditor" || role == "admin" }
