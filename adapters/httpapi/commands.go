package httpapi

import (
	"bytes"
	"errors"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/lushan-dpf/ledger/domain"
)

// commandResult is every command's response.
type commandResult struct {
	PersonID domain.PersonID `json:"person_id"`
	// Position is where the command's last event was appended; pass it as
	// ?after= (or the X-Ledger-After header) to a query to read this write.
	Position string `json:"position"`
	Revision uint64 `json:"revision"`
}

// command runs one beneficiary command under its Idempotency-Key
// (idempotent, in idempotency.go) and answers with its commandResult.
// build decodes the body (strictly) into the command for the user.
func (s *server) command(w http.ResponseWriter, r *http.Request, status int, build func(body []byte, u User) (domain.PersonID, domain.Command, string, error)) {
	s.idempotent(w, r, status, func(body []byte, u User, meta domain.CommandMeta) (any, string, error) {
		pid, cmd, reason, err := build(body, u)
		if err != nil {
			return nil, "", err
		}
		meta.Reason = reason
		res, err := s.handler.Execute(r.Context(), pid, meta, cmd)
		if err != nil {
			return nil, "", err
		}
		loc := ""
		if status == http.StatusCreated {
			loc = "/v1/persons/" + string(pid)
		}
		return commandResult{PersonID: pid, Position: res.Position.String(), Revision: res.NextExpected}, loc, nil
	})
}

type reasonField struct {
	Reason string `json:"reason"`
}

type householdJSON struct {
	Class             string `json:"class"`
	Dibao             bool   `json:"dibao"`
	Tekun             bool   `json:"tekun"`
	WorkInjuryNursing bool   `json:"work_injury_nursing"`
}

func (h householdJSON) parse(field string) (domain.HouseholdStatus, error) {
	class, err := domain.ParseHouseholdClass(field+".class", h.Class)
	if err != nil {
		return domain.HouseholdStatus{}, err
	}
	return domain.HouseholdStatus{Class: class, Dibao: h.Dibao, Tekun: h.Tekun, WorkInjuryNursing: h.WorkInjuryNursing}, nil
}

func (s *server) registerPerson(w http.ResponseWriter, r *http.Request) {
	s.command(w, r, http.StatusCreated, func(body []byte, u User) (domain.PersonID, domain.Command, string, error) {
		var req struct {
			IDNumber     string        `json:"id_number"`
			Name         string        `json:"name"`
			Township     string        `json:"township"`
			Household    householdJSON `json:"household"`
			HouseholdID  string        `json:"household_id"`
			RegisteredOn string        `json:"registered_on"`
			reasonField
		}
		if err := decodeBody(body, &req); err != nil {
			return "", nil, "", err
		}
		if req.IDNumber == "" {
			return "", nil, "", domain.Invalid("id_number", "is required")
		}
		id, err := domain.ParseResidentID("id_number", req.IDNumber)
		if err != nil {
			return "", nil, "", err
		}
		hh, err := req.Household.parse("household")
		if err != nil {
			return "", nil, "", err
		}
		var p parser
		on := p.date("registered_on", req.RegisteredOn)
		if p.err != nil {
			return "", nil, "", p.err
		}
		hash := s.LookupKey.Hash(id)
		return domain.PersonIDFromHash(hash), domain.RegisterPerson{
			IDNumber: id, IDHash: hash, Name: req.Name, Township: req.Township,
			Household: hh, HouseholdID: req.HouseholdID, RegisteredOn: on,
		}, req.Reason, nil
	})
}

// personCommand runs a command on the person named in the path.
func (s *server) personCommand(w http.ResponseWriter, r *http.Request, build func(body []byte, u User) (domain.Command, string, error)) {
	s.command(w, r, http.StatusOK, func(body []byte, u User) (domain.PersonID, domain.Command, string, error) {
		pid, err := personParam(r)
		if err != nil {
			return "", nil, "", err
		}
		cmd, reason, err := build(body, u)
		return pid, cmd, reason, err
	})
}

func (s *server) issueCertificate(w http.ResponseWriter, r *http.Request) {
	s.personCommand(w, r, func(body []byte, _ User) (domain.Command, string, error) {
		var req struct {
			CertificateNumber string `json:"certificate_number"`
			IssuedOn          string `json:"issued_on"`
			ValidUntil        string `json:"valid_until"`
			reasonField
		}
		if err := decodeBody(body, &req); err != nil {
			return nil, "", err
		}
		if req.CertificateNumber == "" {
			return nil, "", domain.Invalid("certificate_number", "is required")
		}
		n, err := domain.ParseCertificateNumber("certificate_number", req.CertificateNumber)
		if err != nil {
			return nil, "", err
		}
		var p parser
		cmd := domain.IssueCertificate{Number: n, IssuedOn: p.date("issued_on", req.IssuedOn), ValidUntil: p.date("valid_until", req.ValidUntil)}
		return cmd, req.Reason, p.err
	})
}

func (s *server) regradeCertificate(w http.ResponseWriter, r *http.Request) {
	s.personCommand(w, r, func(body []byte, _ User) (domain.Command, string, error) {
		var req struct {
			Grade       int    `json:"grade"`
			Category    string `json:"category"`
			EffectiveOn string `json:"effective_on"`
			ValidUntil  string `json:"valid_until"`
			reasonField
		}
		if err := decodeBody(body, &req); err != nil {
			return nil, "", err
		}
		cmd := domain.RegradeCertificate{Grade: domain.DisabilityGrade(req.Grade)}
		if !cmd.Grade.Valid() {
			return nil, "", domain.Invalid("grade", "%d is not a grade 1 to 4", req.Grade)
		}
		if req.Category != "" {
			c, err := domain.ParseCategory("category", req.Category)
			if err != nil {
				return nil, "", err
			}
			cmd.Category = c
		}
		var p parser
		cmd.EffectiveOn = p.date("effective_on", req.EffectiveOn)
		cmd.ValidUntil = p.optDate("valid_until", req.ValidUntil)
		return cmd, req.Reason, p.err
	})
}

func (s *server) revokeCertificate(w http.ResponseWriter, r *http.Request) {
	s.personCommand(w, r, func(body []byte, _ User) (domain.Command, string, error) {
		var req struct {
			ReasonCode  string `json:"reason_code"`
			EffectiveOn string `json:"effective_on"`
			reasonField
		}
		if err := decodeBody(body, &req); err != nil {
			return nil, "", err
		}
		code, err := domain.ParseRevocationReason("reason_code", req.ReasonCode)
		if err != nil {
			return nil, "", err
		}
		var p parser
		return domain.RevokeCertificate{ReasonCode: code, EffectiveOn: p.date("effective_on", req.EffectiveOn)}, req.Reason, p.err
	})
}

func (s *server) changeHousehold(w http.ResponseWriter, r *http.Request) {
	s.personCommand(w, r, func(body []byte, _ User) (domain.Command, string, error) {
		var req struct {
			Household   householdJSON `json:"household"`
			EffectiveOn string        `json:"effective_on"`
			reasonField
		}
		if err := decodeBody(body, &req); err != nil {
			return nil, "", err
		}
		hh, err := req.Household.parse("household")
		if err != nil {
			return nil, "", err
		}
		var p parser
		return domain.ChangeHouseholdStatus{Status: hh, EffectiveOn: p.date("effective_on", req.EffectiveOn)}, req.Reason, p.err
	})
}

func (s *server) recordDeath(w http.ResponseWriter, r *http.Request) {
	s.personCommand(w, r, func(body []byte, _ User) (domain.Command, string, error) {
		var req struct {
			DateOfDeath string `json:"date_of_death"`
			reasonField
		}
		if err := decodeBody(body, &req); err != nil {
			return nil, "", err
		}
		var p parser
		return domain.RecordDeath{DateOfDeath: p.date("date_of_death", req.DateOfDeath)}, req.Reason, p.err
	})
}

func (s *server) retractDeath(w http.ResponseWriter, r *http.Request) {
	s.personCommand(w, r, func(body []byte, _ User) (domain.Command, string, error) {
		var req reasonField
		if err := decodeBody(body, &req); err != nil {
			return nil, "", err
		}
		if strings.TrimSpace(req.Reason) == "" {
			return nil, "", domain.Invalid("reason", "is required: say why the death was recorded in error")
		}
		return domain.RetractDeath{}, req.Reason, nil
	})
}

func (s *server) movePerson(w http.ResponseWriter, r *http.Request) {
	s.personCommand(w, r, func(body []byte, _ User) (domain.Command, string, error) {
		var req struct {
			Township    string `json:"township"`
			EffectiveOn string `json:"effective_on"`
			reasonField
		}
		if err := decodeBody(body, &req); err != nil {
			return nil, "", err
		}
		var p parser
		return domain.MovePerson{ToTownship: req.Township, EffectiveOn: p.date("effective_on", req.EffectiveOn)}, req.Reason, p.err
	})
}

type attributesJSON struct {
	VehiclePlate string `json:"vehicle_plate"`
	Post         string `json:"post"`
}

func (a attributesJSON) domain() domain.GrantAttributes {
	return domain.GrantAttributes{VehiclePlate: a.VehiclePlate, Post: a.Post}
}

func (s *server) proposeGrant(w http.ResponseWriter, r *http.Request) {
	s.personCommand(w, r, func(body []byte, u User) (domain.Command, string, error) {
		var req struct {
			ProposalID    string         `json:"proposal_id"`
			Program       string         `json:"program"`
			EffectiveFrom string         `json:"effective_from"`
			Amount        string         `json:"amount"`
			Attributes    attributesJSON `json:"attributes"`
			reasonField
		}
		if err := decodeBody(body, &req); err != nil {
			return nil, "", err
		}
		var p parser
		cmd := domain.ProposeGrant{
			ProposalID: req.ProposalID, Program: p.program("program", req.Program),
			EffectiveFrom: p.date("effective_from", req.EffectiveFrom), Amount: p.money("amount", req.Amount),
			Attributes: req.Attributes.domain(), ProposedBy: u.Name,
		}
		return cmd, req.Reason, p.err
	})
}

func (s *server) approveGrant(w http.ResponseWriter, r *http.Request) {
	s.personCommand(w, r, func(body []byte, u User) (domain.Command, string, error) {
		var req reasonField
		if len(bytes.TrimSpace(body)) > 0 {
			if err := decodeBody(body, &req); err != nil {
				return nil, "", err
			}
		}
		return domain.ApproveGrant{ProposalID: chi.URLParam(r, "proposal"), ApprovedBy: u.Name}, req.Reason, nil
	})
}

func (s *server) rejectGrant(w http.ResponseWriter, r *http.Request) {
	s.personCommand(w, r, func(body []byte, u User) (domain.Command, string, error) {
		var req reasonField
		if err := decodeBody(body, &req); err != nil {
			return nil, "", err
		}
		return domain.RejectGrant{ProposalID: chi.URLParam(r, "proposal"), RejectedBy: u.Name, Reason: req.Reason}, req.Reason, nil
	})
}

func (s *server) suspendEntitlement(w http.ResponseWriter, r *http.Request) {
	s.personCommand(w, r, func(body []byte, _ User) (domain.Command, string, error) {
		var req struct {
			EffectiveOn string `json:"effective_on"`
			ReasonCode  string `json:"reason_code"`
			reasonField
		}
		if err := decodeBody(body, &req); err != nil {
			return nil, "", err
		}
		code, err := domain.ParseSuspensionReason("reason_code", req.ReasonCode)
		if err != nil {
			return nil, "", err
		}
		var p parser
		cmd := domain.SuspendEntitlement{Program: p.program("program", chi.URLParam(r, "program")), EffectiveOn: p.date("effective_on", req.EffectiveOn), ReasonCode: code}
		return cmd, req.Reason, p.err
	})
}

func (s *server) resumeEntitlement(w http.ResponseWriter, r *http.Request) {
	s.personCommand(w, r, func(body []byte, _ User) (domain.Command, string, error) {
		var req struct {
			EffectiveOn string `json:"effective_on"`
			reasonField
		}
		if err := decodeBody(body, &req); err != nil {
			return nil, "", err
		}
		var p parser
		cmd := domain.ResumeEntitlement{Program: p.program("program", chi.URLParam(r, "program")), EffectiveOn: p.date("effective_on", req.EffectiveOn)}
		return cmd, req.Reason, p.err
	})
}

func (s *server) terminateEntitlement(w http.ResponseWriter, r *http.Request) {
	s.personCommand(w, r, func(body []byte, _ User) (domain.Command, string, error) {
		var req struct {
			EffectiveTo string `json:"effective_to"`
			ReasonCode  string `json:"reason_code"`
			reasonField
		}
		if err := decodeBody(body, &req); err != nil {
			return nil, "", err
		}
		code, err := domain.ParseTerminationReason("reason_code", req.ReasonCode)
		if err != nil {
			return nil, "", err
		}
		var p parser
		cmd := domain.TerminateEntitlement{Program: p.program("program", chi.URLParam(r, "program")), EffectiveTo: p.date("effective_to", req.EffectiveTo), ReasonCode: code}
		return cmd, req.Reason, p.err
	})
}

func (s *server) recordOneOffGrant(w http.ResponseWriter, r *http.Request) {
	s.personCommand(w, r, func(body []byte, _ User) (domain.Command, string, error) {
		var req struct {
			GrantID     string         `json:"grant_id"`
			Program     string         `json:"program"`
			Amount      string         `json:"amount"`
			EffectiveOn string         `json:"effective_on"`
			Attributes  attributesJSON `json:"attributes"`
			reasonField
		}
		if err := decodeBody(body, &req); err != nil {
			return nil, "", err
		}
		var p parser
		cmd := domain.RecordOneOffGrant{
			GrantID: req.GrantID, Program: p.program("program", req.Program), Amount: p.money("amount", req.Amount),
			EffectiveOn: p.date("effective_on", req.EffectiveOn), Attributes: req.Attributes.domain(),
		}
		if p.err == nil && req.Amount == "" {
			p.err = domain.Invalid("amount", "is required")
		}
		return cmd, req.Reason, p.err
	})
}

func (s *server) recordInKindIssue(w http.ResponseWriter, r *http.Request) {
	s.personCommand(w, r, func(body []byte, _ User) (domain.Command, string, error) {
		var req struct {
			IssueID     string `json:"issue_id"`
			Item        string `json:"item"`
			Quantity    int    `json:"quantity"`
			UnitValue   string `json:"unit_value"`
			EffectiveOn string `json:"effective_on"`
			reasonField
		}
		if err := decodeBody(body, &req); err != nil {
			return nil, "", err
		}
		var p parser
		cmd := domain.RecordInKindIssue{
			IssueID: req.IssueID, Item: req.Item, Quantity: req.Quantity,
			UnitValue: p.money("unit_value", req.UnitValue), EffectiveOn: p.date("effective_on", req.EffectiveOn),
		}
		if p.err == nil && req.UnitValue == "" {
			p.err = domain.Invalid("unit_value", "is required")
		}
		return cmd, req.Reason, p.err
	})
}

func (s *server) recordBankAccount(w http.ResponseWriter, r *http.Request) {
	s.personCommand(w, r, func(body []byte, _ User) (domain.Command, string, error) {
		var req struct {
			AccountName   string `json:"account_name"`
			Bank          string `json:"bank"`
			AccountNumber string `json:"account_number"`
			reasonField
		}
		if err := decodeBody(body, &req); err != nil {
			return nil, "", err
		}
		n, err := domain.ParseBankAccountNumber("account_number", req.AccountNumber)
		if err != nil {
			return nil, "", err
		}
		if s.Vault == nil {
			return nil, "", errors.New("no vault configured to seal account numbers")
		}
		sealed, err := s.Vault.Seal(n.Digits())
		if err != nil {
			return nil, "", err
		}
		return domain.RecordBankAccount{Account: domain.BankAccount{
			AccountName: req.AccountName, Bank: req.Bank, AccountMasked: n.Masked(), AccountSealed: sealed,
		}}, req.Reason, nil
	})
}
