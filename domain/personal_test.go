package domain

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestKeys is a domain.PersonalKeys for the domain's tests: it "seals" by
// base64 — the cryptography is adapters/vault's and is tested there — so
// that these tests can check what the domain decides to seal, that
// nothing personal is encoded in clear, and what an erasure leaves.
type TestKeys struct {
	mu     sync.Mutex
	erased map[PersonID]bool
}

// NewTestKeys returns keys no person was erased from.
func NewTestKeys() *TestKeys { return &TestKeys{erased: map[PersonID]bool{}} }

func (k *TestKeys) Seal(_ context.Context, person PersonID, plain []byte) (Sealed, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.erased[person] {
		return "", ErrErased
	}
	return Sealed(sealedPrefix + string(person) + ":" + base64.RawStdEncoding.EncodeToString(plain)), nil
}

func (k *TestKeys) Open(_ context.Context, s Sealed) ([]byte, error) {
	person, err := s.Person()
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.erased[person] {
		return nil, ErrErased
	}
	return base64.RawStdEncoding.DecodeString(strings.TrimPrefix(string(s), sealedPrefix+string(person)+":"))
}

func (k *TestKeys) Erase(_ context.Context, person PersonID) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.erased[person] = true
	return nil
}

func (k *TestKeys) Forget(PersonID) {}

// testKeys seal the personal data of the domain's test events.
var testKeys = NewTestKeys()

// SealForTest seals events for a stream with keys, failing the test if it
// cannot.
func SealForTest(t testing.TB, keys PersonalKeys, stream string, events []Event) []Event {
	t.Helper()
	person, _ := PersonIDFromStream(stream)
	out, err := SealPersonal(context.Background(), keys, person, events)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The personal data of every event that carries some is encoded only
// sealed, decodes back in clear, and after the person's key is erased
// decodes as erased, with nothing of it left.
func TestPersonalDataIsStoredSealedAndErasable(t *testing.T) {
	keys := NewTestKeys()
	reg := NewLedgerRegistry().WithKeys(keys)
	r := registered(adultID, HouseholdStatus{})
	stream := r.PersonID.Stream()
	unknown := PersonIDFromHash(testKey.Hash(childID))
	events := []Event{
		r,
		BankAccountRecorded{AccountName: "张三", Bank: "中国农业银行庐山支行", AccountMasked: "6228************1234", AccountSealed: "v1:abcd:c2VhbGVk"},
		RosterDifferencesFound{ImportID: "9f2c4e1a0b7d3c55", Attempt: "a1", Differences: []RosterDifference{
			{Person: r.PersonID, IDMasked: adultID.Masked(), Name: "张三", Township: "蛟塘镇", Kind: DiffDibaoWithoutLivingSubsidy},
			{Subject: unknown, IDMasked: childID.Masked(), Name: "李四", Township: "星子镇", Kind: DiffUnknownPerson, Line: 7},
		}},
	}
	for _, ev := range events {
		if _, err := encodeEvent(ev); err == nil || !strings.Contains(err.Error(), "not sealed") {
			t.Errorf("%s encoded without sealing: %v", ev.EventType(), err)
		}
	}
	sealed := SealForTest(t, keys, stream, events)
	var stored [][]byte
	for _, ev := range sealed {
		b, err := encodeEvent(ev)
		if err != nil {
			t.Fatal(err)
		}
		for _, clear := range []string{adultID.Number(), adultID.Masked(), childID.Masked(), "张三", "李四", "6228", "v1:abcd"} {
			if bytes.Contains(b, []byte(clear)) {
				t.Errorf("%s holds %q in clear: %s", ev.EventType(), clear, b)
			}
		}
		stored = append(stored, b)
	}
	decode := func(i int) Event {
		t.Helper()
		ev, err := reg.Decode(sealed[i].EventType(), stored[i])
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	if got := decode(0).(*PersonRegistered); got.IDNumber != adultID.Number() || got.Name != "张三" || got.IDMasked != adultID.Masked() ||
		!got.BirthDate.Equal(adultID.BirthDate()) || got.Erased {
		t.Errorf("registration decodes as %+v", got)
	}
	if got := decode(1).(*BankAccountRecorded); got.AccountName != "张三" || got.AccountSealed != "v1:abcd:c2VhbGVk" || got.Erased {
		t.Errorf("account decodes as %+v", got)
	}
	if got := decode(2).(*RosterDifferencesFound); got.Differences[0].Name != "张三" || got.Differences[1].Name != "李四" ||
		got.Differences[1].IDMasked != childID.Masked() || got.Differences[1].Subject != unknown {
		t.Errorf("differences decode as %+v", got.Differences)
	}

	if err := keys.Erase(context.Background(), r.PersonID); err != nil {
		t.Fatal(err)
	}
	if got := decode(0).(*PersonRegistered); got.IDNumber != "" || got.Name != "" || got.IDMasked != "" || !got.BirthDate.IsZero() || !got.Erased {
		t.Errorf("erased registration decodes as %+v", got)
	}
	if s := Evolve(Evolve(Beneficiary{}, decode(0)), decode(1)); !s.Erased || s.Name != "" || !s.IDNumber.IsZero() || s.BankAccount != nil {
		t.Errorf("erased person folds to %+v", s)
	}
	if got := decode(2).(*RosterDifferencesFound); got.Differences[0].Name != "" || !got.Differences[0].Erased || got.Differences[1].Name != "李四" {
		t.Errorf("erasing one person's key leaves differences %+v", got.Differences)
	}
	if _, err := SealPersonal(context.Background(), keys, r.PersonID, []Event{r}); !errors.Is(err, ErrErased) {
		t.Errorf("sealing for an erased person: %v; want ErrErased", err)
	}
	if _, err := SealPersonal(context.Background(), nil, r.PersonID, []Event{r}); err == nil {
		t.Error("sealed personal data without keys")
	}
}

// Events written before personal data was sealed keep working: the
// upcasters move their clear data aside and the registry reads it.
func TestLegacyClearEventsAreUpcast(t *testing.T) {
	reg := NewLedgerRegistry().WithKeys(NewTestKeys())
	r := registered(adultID, HouseholdStatus{Dibao: true})
	v2, _ := json.Marshal(map[string]any{"person_id": r.PersonID, "id_number": adultID.Number(), "id_hash": r.IDHash,
		"id_masked": adultID.Masked(), "name": "张三", "birth_date": adultID.BirthDate(), "gender": adultID.Gender(),
		"township": "蛟塘镇", "household_id": r.HouseholdID, "household": r.Household, "registered_on": r.RegisteredOn})
	ev, err := reg.Decode(TypePersonRegisteredV2, v2)
	if err != nil {
		t.Fatal(err)
	}
	if got := ev.(*PersonRegistered); got.IDNumber != adultID.Number() || got.Name != "张三" || got.IDMasked != adultID.Masked() ||
		got.Township != "蛟塘镇" || !got.Household.Dibao || got.LegacyClear == nil {
		t.Errorf("v2 registration decodes as %+v", got)
	}
	if _, err := encodeEvent(ev); err == nil {
		t.Error("an upcast event with clear data encoded as current")
	}
	acct, _ := json.Marshal(map[string]any{"account_name": "张三", "bank": "农行", "account_masked": "6228****1234", "account_sealed": "v1:x:y"})
	ev, err = reg.Decode(TypeBankAccountRecordedV1, acct)
	if err != nil {
		t.Fatal(err)
	}
	if got := ev.(*BankAccountRecorded); got.AccountName != "张三" || got.Bank != "农行" || got.AccountSealed != "v1:x:y" {
		t.Errorf("v1 account decodes as %+v", got)
	}
	diffs := []byte(`{"import_id":"9f2c4e1a0b7d3c55","attempt":"a","part":0,"differences":[{"person_id":"` + string(r.PersonID) +
		`","id_masked":"360427********1234","name":"张三","township":"蛟塘镇","kind":"unknown_person","line":3}]}`)
	ev, err = reg.Decode(TypeRosterDifferencesFoundV1, diffs)
	if err != nil {
		t.Fatal(err)
	}
	if got := ev.(*RosterDifferencesFound); len(got.Differences) != 1 || got.Differences[0].Name != "张三" ||
		got.Differences[0].IDMasked != "360427********1234" || got.Differences[0].Line != 3 {
		t.Errorf("v1 differences decode as %+v", got.Differences)
	}
}

// A person is erased only when nothing is open and the retention period
// has run out; after it, nothing more can be recorded for them.
func TestErasePersonRules(t *testing.T) {
	ended := adult(granted(ProgramLivingSubsidy, "2022-01-01"),
		EntitlementTerminated{Program: ProgramLivingSubsidy, EffectiveTo: d("2024-10-31"), ReasonCode: TerminationVoluntary})
	after := d("2055-01-01") // 2024 + 30 years have passed
	erase := func(on Date, money PersonMoney) ErasePerson {
		return ErasePerson{Reason: "retention ended; the family asked", On: on, Money: money}
	}
	for _, c := range []struct {
		name  string
		given []Event
		cmd   ErasePerson
		rule  string
	}{
		{"an entitlement is open", adult(granted(ProgramLivingSubsidy, "2022-01-01")), erase(after, PersonMoney{}), RuleErasureOpen},
		{"a grant awaits approval", append(ended, GrantProposed{ProposalID: "p-1", Program: ProgramCareSubsidy, EffectiveFrom: d("2024-01-01"), ProposedBy: "clerk"}),
			erase(after, PersonMoney{}), RuleErasureOpen},
		{"a payment is in flight", ended, erase(after, PersonMoney{OpenLines: 1}), RuleErasureOpen},
		{"a claim is still owed", ended, erase(after, PersonMoney{OpenClaims: m("100.00")}), RuleErasureOpen},
		{"within retention of the last event", ended, erase(d("2054-12-31"), PersonMoney{}), RuleRetentionNotEnded},
		{"within retention of the last month paid", ended, erase(after, PersonMoney{LastPaid: period(2025, 1)}), RuleRetentionNotEnded},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decide(fold(c.given), c.cmd, testNow)
			var re *RuleError
			if !errors.As(err, &re) || re.Rule != c.rule {
				t.Fatalf("got %v; want rule %s", err, c.rule)
			}
		})
	}
	if _, err := Decide(fold(ended), ErasePerson{On: after}, testNow); !errors.Is(err, ErrInvalid) {
		t.Errorf("erasure without a reason: %v", err)
	}
	dead := append(ended, PersonDied{DateOfDeath: d("2024-11-02")})
	evs, err := Decide(fold(dead), erase(after, PersonMoney{LastPaid: period(2024, 10)}), testNow)
	if err != nil {
		t.Fatalf("erasing a person who died: %v", err)
	}
	e, ok := evs[0].(PersonErased)
	if !ok || !e.ErasedOn.Equal(after) || !e.LastActivity.Equal(d("2024-11-02")) || e.PersonID != fold(dead).ID {
		t.Fatalf("decided %+v", evs)
	}
	s := fold(append(dead, e))
	if !s.Erased || s.Name != "" || !s.IDNumber.IsZero() {
		t.Errorf("erased state %+v", s)
	}
	for _, cmd := range []Command{RetractDeath{}, erase(after, PersonMoney{}), RecordDeath{DateOfDeath: d("2024-11-02")}} {
		var re *RuleError
		if _, err := Decide(s, cmd, testNow); !errors.As(err, &re) || re.Rule != RuleErased {
			t.Errorf("%s after erasure: %v; want rule %s", cmd.CommandName(), err, RuleErased)
		}
	}
}

func period(y int, m time.Month) Period {
	p, err := NewPeriod(y, m)
	if err != nil {
		panic(err)
	}
	return p
}
