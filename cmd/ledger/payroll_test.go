package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lushan-dpf/ledger/adapters/pgstore"
	"github.com/lushan-dpf/ledger/adapters/postgres/pgtest"
	"github.com/lushan-dpf/ledger/app"
	"github.com/lushan-dpf/ledger/domain"
)

func TestPayrollCommands(t *testing.T) {
	db := pgtest.NewSchema(t)
	s := pgstore.New(db.Pool)
	defer s.Close()
	ctx := context.Background()
	h := app.NewPersons(s)
	key := domain.LookupKey(devLookupKey)
	for i, birth := range []string{"1950-02-03", "1962-07-30"} {
		id, _ := domain.NewResidentID("360429", domain.MustDate(birth), 11+i)
		hash := key.Hash(id)
		pid := domain.PersonIDFromHash(hash)
		cert, _ := domain.NewCertificateNumber(id, domain.CategoryVisual, 2)
		for k, c := range []domain.Command{
			domain.RegisterPerson{IDNumber: id, IDHash: hash, Name: "赵敏", Township: "白鹿镇", Household: domain.HouseholdStatus{Dibao: true}, RegisteredOn: domain.MustDate("2024-01-01")},
			domain.IssueCertificate{Number: cert, IssuedOn: domain.MustDate("2020-01-01"), ValidUntil: domain.MustDate("2030-01-01")},
			domain.GrantEntitlement{Program: domain.ProgramLivingSubsidy, EffectiveFrom: domain.MustDate("2025-01-01")},
		} {
			if _, err := h.Execute(ctx, pid, domain.CommandMeta{CommandID: strings.Repeat("x", k+1) + birth, Actor: "clerk", Role: "clerk", Now: time.Now()}, c); err != nil {
				t.Fatal(err)
			}
		}
	}
	env := getenvFrom(map[string]string{"DATABASE_URL": db.URL})
	run1 := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := run(ctx, args, env, &out, &errOut)
		return out.String(), err
	}
	if _, err := run1("project", "--once"); err != nil {
		t.Fatal(err)
	}
	out, err := run1("payroll", "run", "--program", "living_subsidy", "--period", "2025-02", "--user", "fin.wu")
	if err != nil || !strings.Contains(out, ": 4 lines, total 440.00 (regular 2, arrears 2, reissue 0)") {
		t.Fatalf("run: %v\n%s", err, out)
	}
	batch := batchOf(t, out)
	if _, err := run1("project", "--once"); err != nil {
		t.Fatal(err)
	}
	if _, err := run1("payroll", "approve", batch, "--user", "fin.wu"); err == nil || !strings.Contains(err.Error(), "may not approve") {
		t.Fatalf("self-approval: %v", err)
	}
	if out, err = run1("payroll", "approve", batch, "--user", "fin.li"); err != nil || !strings.Contains(out, "approved "+batch+" by fin.li: 4 payments issued, total 440.00") {
		t.Fatalf("approve: %v %s", err, out)
	}
	if _, err := run1("project", "--once"); err != nil {
		t.Fatal(err)
	}
	if _, err = run1("payroll", "run", "--program", "living_subsidy", "--period", "2025-02", "--user", "fin.wu"); err == nil || !strings.Contains(err.Error(), "nothing is owed") {
		t.Fatalf("the same run again: %v", err)
	}
	var paid string
	if err := db.Pool.QueryRow(ctx, `SELECT sum(amount)::text FROM payments`).Scan(&paid); err != nil || paid != "440.00" {
		t.Fatalf("payments register holds %s, %v; want 440.00", paid, err)
	}
	for _, args := range [][]string{
		{"payroll", "run", "--program", "condolence", "--period", "2025-02", "--user", "u"},
		{"payroll", "run", "--program", "living_subsidy", "--period", "2025-13", "--user", "u"},
		{"payroll", "run", "--program", "living_subsidy", "--period", "2025-02"},
		{"payroll", "approve", "not-a-batch", "--user", "u"},
		{"payroll", "frobnicate"},
	} {
		if _, err := run1(args...); err == nil {
			t.Errorf("%v succeeded", args)
		}
	}
}
