package seed

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/lushan-dpf/ledger/app"
	"github.com/lushan-dpf/ledger/domain"
)

// The departments' rosters. Every month the federation receives civil
// affairs' 低保/特困/城镇困难群众 list, rural affairs' 脱贫户/监测户 list,
// human resources' work-injury nursing list and the death records, each as
// of the month's last day, and cross-checks them with the ledger
// (`ledger roster import`). The demo county does the same: the lists are
// what the plan's county is on that day — including people on them whom
// the federation has not registered yet — written as files the
// departments send and read back by the same parser.
//
// A household class change reaches the ledger only this way: an approver
// makes the change the roster proposes, from the roster's day, so the
// year's counts by class (1,673 lifted from poverty; 68 + 26 + 159
// monitored; 414 urban needy) are what the rosters said. Differences a
// caseworker records anyway from the family's application (a household
// joining or leaving 低保, a death) are rejected with that reason.

// rosterImporter is the clerk who imports the rosters, and rosterApprover
// the user who decides the changes they propose.
const (
	rosterImporter   = "clerk.tu"
	rosterApprover   = "approver.liu"
	reasonHandled    = "乡镇已按申请材料办理，不重复变更"
	reasonNotApplied = "两项补贴依申请发放，本人暂未申请"
)

// rosterSources are the sources the demo imports, in order.
var rosterSources = []domain.RosterSource{domain.RosterCivilAffairs, domain.RosterRuralAffairs,
	domain.RosterHumanResources, domain.RosterDeaths}

// importRosters imports the rosters of month m (as of its last day) at
// time at, and decides what they propose.
func (x *executor) importRosters(ctx context.Context, m int, at time.Time) error {
	if x.ports.ReadRoster == nil {
		return nil
	}
	started := time.Now()
	asOf := monthDate(m, 31)
	if err := x.ports.ReadModels.WaitFor(ctx, x.position()); err != nil {
		return err
	}
	rosters := app.NewRosters(x.ports.Store, x.handler, x.pl.key)
	summary := ""
	for _, src := range rosterSources {
		name, data := x.rosterFile(src, m, asOf)
		if x.ports.Files != nil {
			if err := x.ports.Files(name, data); err != nil {
				return err
			}
		}
		parsed, err := x.ports.ReadRoster(data, name, src, asOf)
		if err != nil {
			return fmt.Errorf("seed: the %s roster of %s: %w", src, asOf, err)
		}
		sum := sha256.Sum256(data)
		meta := domain.CommandMeta{CommandID: fmt.Sprintf("%s/s%d/roster/%s/%s", Lushan2024, x.pl.seed, src, asOf),
			Actor: rosterImporter, Role: roleClerk, Now: at, Reason: fmt.Sprintf("%s roster of %s", src, asOf)}
		res, err := rosters.Import(ctx, meta, x.ports.ReadModels, app.RosterFile{Name: name, SHA256: sum[:], Roster: parsed}, nil)
		if err != nil {
			return fmt.Errorf("seed: importing the %s roster of %s: %w", src, asOf, err)
		}
		x.observe(res.Position)
		approved, rejected, err := x.decideRoster(ctx, res, at.Add(20*time.Minute))
		if err != nil {
			return err
		}
		n := 0
		for _, c := range res.Import.Differences {
			n += c
		}
		summary += fmt.Sprintf("; %s %d lines, %d differences, %d approved, %d rejected", src, res.Import.Lines, n, approved, rejected)
	}
	x.logf("2024-%02d rosters cross-checked (%s)%s", m, time.Since(started).Round(100*time.Millisecond), summary)
	return nil
}

// decideRoster approves the household class changes an import proposed
// and rejects the rest: a caseworker records them from the family's
// application, the living subsidy is paid only to those who apply, and a
// person who moved out of the county stays on the lists of the plan.
func (x *executor) decideRoster(ctx context.Context, res app.ImportResult, at time.Time) (approved, rejected int, err error) {
	seen := map[domain.PersonID]bool{}
	for _, d := range res.Differences {
		if d.ProposalID != "roster-"+res.Import.ImportID || seen[d.Person] {
			continue
		}
		seen[d.Person] = true
		p := x.byPID[d.Person]
		meta := domain.CommandMeta{CommandID: fmt.Sprintf("%s/s%d/roster/%s/%s", Lushan2024, x.pl.seed, d.ProposalID, d.Person),
			Actor: rosterApprover, Role: roleApprover, Now: at}
		reason := reasonHandled
		switch {
		case p != nil && p.movedAway > 0:
			reason = reasonMovedAway
		case d.Kind == domain.DiffDibaoWithoutLivingSubsidy:
			reason = reasonNotApplied
		}
		var cmd domain.Command = domain.RejectChange{ProposalID: d.ProposalID, RejectedBy: rosterApprover, Reason: reason}
		if p != nil && p.change != nil && p.change.kind == changeClass && d.Kind == domain.DiffHouseholdChanged {
			cmd, meta.Reason = domain.ApproveChange{ProposalID: d.ProposalID, ApprovedBy: rosterApprover}, reasonClass
			approved++
		} else {
			rejected++
		}
		r, err := x.handler.Execute(ctx, d.Person, meta, cmd)
		if err != nil {
			return approved, rejected, fmt.Errorf("seed: %s %s of %s: %w", cmd.CommandName(), d.ProposalID, d.Person, err)
		}
		x.observe(r.Position)
	}
	return approved, rejected, nil
}

// rosterFile writes the roster of src on asOf (month m) as the department
// sends it: civil affairs a CSV in GB18030, the others CSV in UTF-8 with a
// byte-order mark, as Excel saves them.
func (x *executor) rosterFile(src domain.RosterSource, m int, asOf domain.Date) (string, []byte) {
	var b bytes.Buffer
	row := func(fields ...string) {
		for i, f := range fields {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(f)
		}
		b.WriteString("\r\n")
	}
	n := 0
	next := func() string { n++; return fmt.Sprint(n) }
	switch src {
	case domain.RosterCivilAffairs:
		row("序号", "姓名", "公民身份号码", "乡镇（街道）", "救助类别")
	case domain.RosterRuralAffairs:
		row("序号", "户类型", "监测类型", "姓名", "身份证号", "乡镇")
	case domain.RosterHumanResources:
		row("姓名", "身份证号码", "所属乡镇", "待遇类别")
	case domain.RosterDeaths:
		row("姓名", "身份证号", "死亡日期", "乡镇")
	}
	for _, p := range x.pl.persons {
		if src == domain.RosterDeaths {
			if p.death == m {
				row(p.name, p.id.Number(), p.deathOn.String(), p.township)
			}
			continue
		}
		if p.death > 0 && p.death <= m {
			continue
		}
		s := p.statusOn(asOf)
		switch src {
		case domain.RosterCivilAffairs:
			switch {
			case s.Tekun:
				row(next(), p.name, p.id.Number(), p.township, "特困供养")
			case s.Dibao:
				row(next(), p.name, p.id.Number(), p.township, "农村低保")
			}
			if s.Class == domain.HouseholdUrbanNeedy {
				row(next(), p.name, p.id.Number(), p.township, "城镇困难群众")
			}
		case domain.RosterRuralAffairs:
			if kind, ok := monitoringKinds[s.Class]; ok {
				row(next(), "监测户", kind, p.name, p.id.Number(), p.township)
			} else if s.Class == domain.HouseholdLiftedFromPoverty {
				row(next(), "脱贫户", "", p.name, p.id.Number(), p.township)
			}
		case domain.RosterHumanResources:
			if s.WorkInjuryNursing {
				row(p.name, p.id.Number(), p.township, "工伤护理费")
			}
		}
	}
	name := fmt.Sprintf("%s-%s.csv", src, asOf)
	if src == domain.RosterCivilAffairs {
		gb, err := simplifiedchinese.GB18030.NewEncoder().Bytes(b.Bytes())
		if err != nil {
			panic(err) // every character of the plan is in GB18030
		}
		return name, gb
	}
	return name, slices.Concat([]byte("\ufeff"), b.Bytes())
}

var monitoringKinds = map[domain.HouseholdClass]string{
	domain.HouseholdMonitoredMarginal: "边缘易致贫户",
	domain.HouseholdMonitoredUnstable: "脱贫不稳定户",
	domain.HouseholdMonitoredHardship: "突发严重困难户",
}

// statusOn is the household status the departments have for p on asOf:
// as registered, changed from the change's day.
func (p *person) statusOn(asOf domain.Date) domain.HouseholdStatus {
	s := p.status
	if c := p.change; c != nil && !c.on.IsZero() && !c.on.After(asOf) {
		s = c.apply(s)
	}
	return s
}
