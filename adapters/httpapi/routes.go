package httpapi

import "net/http"

// route is one endpoint and the roles that may call it (nil: public).
// Admin may call every authenticated route.
type route struct {
	method  string
	pattern string
	roles   []Role
	handler http.HandlerFunc
}

var (
	staff       = []Role{RoleClerk, RoleApprover, RoleFinance, RoleAuditor, RoleAdmin}
	caseworkers = []Role{RoleClerk, RoleAdmin}
	approvers   = []Role{RoleApprover, RoleAdmin}
	money       = []Role{RoleFinance, RoleAuditor, RoleAdmin}
	financeOnly = []Role{RoleFinance, RoleAdmin}
	auditors    = []Role{RoleAuditor, RoleAdmin}
)

// routes is the API's whole surface, in one place.
func (s *server) routes() []route {
	return []route{
		{"GET", "/healthz", nil, handleHealthz(s.Version)},
		{"GET", "/readyz", nil, s.handleReadyz},
		{"GET", "/metrics", nil, s.handleMetrics},
		{"GET", "/v1/openapi.json", nil, handleOpenAPI},

		// Queries.
		{"POST", "/v1/persons/lookup", staff, s.lookupPerson},
		{"GET", "/v1/persons", staff, s.searchPersons},
		{"GET", "/v1/persons/{id}", staff, s.getPerson},
		{"GET", "/v1/persons/{id}/entitlements", staff, s.getEntitlements},
		{"GET", "/v1/persons/{id}/payments", money, s.getPayments},
		{"GET", "/v1/persons/{id}/history", auditors, s.getHistory},
		{"GET", "/v1/programs", staff, s.getPrograms},
		{"GET", "/v1/townships", staff, s.getTownships},
		{"GET", "/v1/certificates/expiring", staff, s.getExpiringCertificates},
		{"GET", "/v1/spending", money, s.getSpending},
		{"GET", "/v1/reports/annual", money, s.getAnnualSummary},
		{"GET", "/v1/projections", staff, s.getProjections},
		{"GET", "/v1/rosters/imports", staff, s.getRosterImports},
		{"GET", "/v1/rosters/imports/{import}/differences", staff, s.getRosterDifferences},

		// Commands: each takes an Idempotency-Key and returns the position
		// its events were appended at.
		{"POST", "/v1/persons", caseworkers, s.registerPerson},
		{"POST", "/v1/persons/{id}/certificate", caseworkers, s.issueCertificate},
		{"POST", "/v1/persons/{id}/certificate/regrade", caseworkers, s.regradeCertificate},
		{"POST", "/v1/persons/{id}/certificate/revoke", caseworkers, s.revokeCertificate},
		{"POST", "/v1/persons/{id}/household", caseworkers, s.changeHousehold},
		{"POST", "/v1/persons/{id}/death", caseworkers, s.recordDeath},
		{"POST", "/v1/persons/{id}/death/retract", approvers, s.retractDeath},
		{"POST", "/v1/persons/{id}/move", caseworkers, s.movePerson},
		{"POST", "/v1/persons/{id}/grants", caseworkers, s.proposeGrant},
		{"POST", "/v1/persons/{id}/grants/{proposal}/approve", approvers, s.approveGrant},
		{"POST", "/v1/persons/{id}/grants/{proposal}/reject", approvers, s.rejectGrant},
		{"POST", "/v1/persons/{id}/changes/{proposal}/approve", approvers, s.approveChange},
		{"POST", "/v1/persons/{id}/changes/{proposal}/reject", approvers, s.rejectChange},
		{"POST", "/v1/rosters/{source}/imports", caseworkers, s.importRoster},
		{"POST", "/v1/persons/{id}/entitlements/{program}/suspend", caseworkers, s.suspendEntitlement},
		{"POST", "/v1/persons/{id}/entitlements/{program}/resume", caseworkers, s.resumeEntitlement},
		{"POST", "/v1/persons/{id}/entitlements/{program}/terminate", caseworkers, s.terminateEntitlement},
		{"POST", "/v1/persons/{id}/one-off-grants", caseworkers, s.recordOneOffGrant},
		{"POST", "/v1/persons/{id}/in-kind-issues", caseworkers, s.recordInKindIssue},
		{"POST", "/v1/persons/{id}/bank-account", caseworkers, s.recordBankAccount},

		// Payroll (finance).
		{"POST", "/v1/payroll/batches", financeOnly, s.draftPayroll},
		{"POST", "/v1/payroll/batches/{batch}/approve", financeOnly, s.decidePayroll("approve")},
		{"POST", "/v1/payroll/batches/{batch}/reject", financeOnly, s.decidePayroll("reject")},
		{"POST", "/v1/payroll/batches/{batch}/resume", financeOnly, s.decidePayroll("resume")},
		{"GET", "/v1/payroll/batches/{batch}", money, s.getBatch},
		{"POST", "/v1/payroll/batches/{batch}/exports", financeOnly, s.exportBatch},
		{"GET", "/v1/payroll/batches/{batch}/exports/{sha256}", financeOnly, s.getExport},
		{"POST", "/v1/payroll/batches/{batch}/returns", financeOnly, s.uploadReturn},
		{"POST", "/v1/payroll/claims", financeOnly, s.recordClaims},
		{"POST", "/v1/payroll/claims/{claim}/recover", financeOnly, s.settleClaim(false)},
		{"POST", "/v1/payroll/claims/{claim}/write-off", financeOnly, s.settleClaim(true)},
		{"POST", "/v1/budgets", financeOnly, s.proposeBudget},
		{"POST", "/v1/budgets/{program}/{year}/approve", financeOnly, s.decideBudget(true)},
		{"POST", "/v1/budgets/{program}/{year}/reject", financeOnly, s.decideBudget(false)},
		{"GET", "/v1/payroll/months", money, s.getProgramMonths},
		{"GET", "/v1/payroll/never-twice", money, s.getNeverTwice},

		// The monthly change notice: POST answers the file and records it.
		{"POST", "/v1/reports/changes", caseworkers, s.issueChangeNotice},
		{"GET", "/v1/reports/changes", staff, s.getChangeNotices},
	}
}

// RouteInfo describes a route for documentation and tests.
type RouteInfo struct {
	Method  string
	Pattern string
	Roles   []Role // nil: public (no token needed)
}

// Routes lists every route with the roles it allows (admin may call every
// authenticated route as well).
func Routes() []RouteInfo {
	var out []RouteInfo
	for _, r := range (&server{}).routes() {
		out = append(out, RouteInfo{Method: r.method, Pattern: r.pattern, Roles: r.roles})
	}
	return out
}
