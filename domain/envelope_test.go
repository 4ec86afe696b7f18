package domain_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lushan-dpf/ledger/domain"
)

type noted struct {
	Text string      `json:"text"`
	On   domain.Date `json:"on"`
}

func (noted) EventType() string          { return "test.Noted.v1" }
func (n noted) EffectiveOn() domain.Date { return n.On }

func meta(cmd string) domain.CommandMeta {
	return domain.CommandMeta{
		CommandID: cmd, Actor: "wang.li", Role: "clerk", Reason: "test",
		Now: time.Date(2025, 3, 4, 5, 6, 7, 0, time.FixedZone("CST", 8*3600)),
	}
}

func TestSealChainsHashesAndFillsMetadata(t *testing.T) {
	evs := []domain.Event{noted{"一", domain.MustDate("2025-01-01")}, noted{"二", domain.MustDate("2025-02-01")}}
	data, err := domain.Seal(meta("cmd-1"), "", evs)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) != 2 {
		t.Fatalf("sealed %d events, want 2", len(data))
	}
	prev := ""
	for i, d := range data {
		if d.ID != domain.EventID("cmd-1", i) {
			t.Errorf("event %d ID %s is not EventID(cmd-1, %d)", i, d.ID, i)
		}
		md, err := domain.VerifyHash(domain.RecordedEvent{Stream: "s", Revision: uint64(i), Type: d.Type, Data: d.Data, Metadata: d.Metadata}, prev)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if md.Actor != "wang.li" || md.Role != "clerk" || md.CommandID != "cmd-1" || md.CorrelationID != "cmd-1" || md.SchemaVersion != 1 {
			t.Errorf("event %d metadata %+v", i, md)
		}
		if md.RecordedAt.Location() != time.UTC || !md.RecordedAt.Equal(meta("").Now) {
			t.Errorf("recorded_at %v, want %v in UTC", md.RecordedAt, meta("").Now)
		}
		if want := evs[i].(noted).On; !md.EffectiveDate.Equal(want) {
			t.Errorf("effective date %s, want %s", md.EffectiveDate, want)
		}
		prev = md.Hash
	}
	// Same command, same events: same IDs and hashes (deterministic).
	again, _ := domain.Seal(meta("cmd-1"), "", evs)
	if string(again[1].Metadata) != string(data[1].Metadata) {
		t.Error("sealing the same command twice gave different metadata")
	}
}

func TestVerifyHashDetectsTampering(t *testing.T) {
	data, err := domain.Seal(meta("cmd-2"), "abc", []domain.Event{noted{"原文", domain.MustDate("2025-01-01")}})
	if err != nil {
		t.Fatal(err)
	}
	rec := domain.RecordedEvent{Stream: "s", Type: data[0].Type, Data: data[0].Data, Metadata: data[0].Metadata}

	// Re-encoded with other key order and spacing: the stored bytes are
	// what the hash covers, so even a re-formatting is caught.
	var m map[string]any
	_ = json.Unmarshal(rec.Data, &m)
	reordered, _ := json.MarshalIndent(m, "", "  ")
	reformatted := rec
	reformatted.Data = reordered
	if _, err := domain.VerifyHash(reformatted, "abc"); err == nil {
		t.Error("re-formatted data passed verification")
	}
	if _, err := domain.VerifyHash(rec, "abc"); err != nil {
		t.Errorf("the untouched event failed verification: %v", err)
	}

	cases := []struct {
		name string
		mod  func(r *domain.RecordedEvent)
		prev string
	}{
		{"data changed", func(r *domain.RecordedEvent) { r.Data = []byte(`{"text":"改过","on":"2025-01-01"}`) }, "abc"},
		{"type changed", func(r *domain.RecordedEvent) { r.Type = "test.Other.v1" }, "abc"},
		{"metadata changed", func(r *domain.RecordedEvent) {
			r.Metadata = []byte(strings.Replace(string(r.Metadata), "wang.li", "someone", 1))
		}, "abc"},
		{"chain broken", func(r *domain.RecordedEvent) {}, "xyz"},
	}
	for _, c := range cases {
		r := rec
		c.mod(&r)
		if _, err := domain.VerifyHash(r, c.prev); err == nil {
			t.Errorf("%s: verification passed", c.name)
		}
	}
}

func TestSealValidatesCommandMeta(t *testing.T) {
	cases := []struct {
		field string
		mod   func(m *domain.CommandMeta)
	}{
		{"command_id", func(m *domain.CommandMeta) { m.CommandID = " " }},
		{"command_id", func(m *domain.CommandMeta) { m.CommandID = strings.Repeat("x", 201) }},
		{"actor", func(m *domain.CommandMeta) { m.Actor = "" }},
		{"role", func(m *domain.CommandMeta) { m.Role = "" }},
		{"now", func(m *domain.CommandMeta) { m.Now = time.Time{} }},
	}
	for _, c := range cases {
		m := meta("cmd")
		c.mod(&m)
		_, err := domain.Seal(m, "", []domain.Event{noted{}})
		var fe *domain.FieldError
		if !errors.As(err, &fe) || fe.Field != c.field || !errors.Is(err, domain.ErrInvalid) {
			t.Errorf("%s: err = %v, want a field error on it", c.field, err)
		}
	}
}

type badType struct{}

func (badType) EventType() string { return "test.NoVersion" }

func TestSchemaVersion(t *testing.T) {
	for typ, want := range map[string]int{"a.B.v1": 1, "beneficiary.PersonRegistered.v2": 2, "x.Y.v12": 12} {
		if got, err := domain.SchemaVersion(typ); err != nil || got != want {
			t.Errorf("SchemaVersion(%q) = %d, %v; want %d", typ, got, err, want)
		}
	}
	for _, typ := range []string{"a.B", "a.B.v0", "a.B.vx", ""} {
		if _, err := domain.SchemaVersion(typ); !errors.Is(err, domain.ErrInvalid) {
			t.Errorf("SchemaVersion(%q) accepted", typ)
		}
	}
	if _, err := domain.Seal(meta("c"), "", []domain.Event{badType{}}); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("sealing an unversioned type: %v", err)
	}
}

type greetedV2 struct {
	Name     string `json:"name"`
	Language string `json:"language"`
}

func (greetedV2) EventType() string { return "test.Greeted.v2" }

func TestRegistryUpcastsOlderVersions(t *testing.T) {
	r := domain.NewRegistry(func() domain.Event { return &greetedV2{} })
	r.Upcast("test.Greeted.v1", "test.Greeted.v2", func(b []byte) ([]byte, error) {
		var v1 struct {
			Name string `json:"name"`
		}
		if err := json.Unmarshal(b, &v1); err != nil {
			return nil, err
		}
		return json.Marshal(greetedV2{Name: v1.Name, Language: "zh"})
	})
	ev, err := r.Decode("test.Greeted.v1", []byte(`{"name":"李"}`))
	if err != nil {
		t.Fatal(err)
	}
	if g := ev.(*greetedV2); g.Name != "李" || g.Language != "zh" || g.EventType() != "test.Greeted.v2" {
		t.Errorf("upcast gave %+v", g)
	}
	if _, err := r.Decode("test.Unknown.v1", []byte(`{}`)); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("unknown type: %v", err)
	}
	// A field added later with a safe zero value needs no new version:
	// readers that predate it ignore it.
	if ev, err := r.Decode("test.Greeted.v2", []byte(`{"name":"x","language":"en","added_later":1}`)); err != nil || ev.(*greetedV2).Language != "en" {
		t.Errorf("event with a field added later: %v, %v", ev, err)
	}
	if _, err := r.Decode("test.Greeted.v2", []byte(`{"name":1}`)); err == nil {
		t.Error("a field of the wrong type was accepted")
	}
}

func TestEventIDIsDeterministic(t *testing.T) {
	if domain.EventID("c", 0) != domain.EventID("c", 0) {
		t.Error("same command and index gave different IDs")
	}
	if domain.EventID("c", 0) == domain.EventID("c", 1) || domain.EventID("c", 0) == domain.EventID("d", 0) {
		t.Error("different commands or indexes gave the same ID")
	}
	if got := domain.EventID("c", 0).Version(); got != 5 {
		t.Errorf("event IDs are UUID version %d, want 5", got)
	}
}

func TestPositionOrderAndText(t *testing.T) {
	a := domain.Position{Commit: 10, Prepare: 500}
	b := domain.Position{Commit: 11, Prepare: 2}
	if !a.Less(b) || b.Less(a) || a.Compare(a) != 0 || !domain.Start.Less(a) {
		t.Error("positions order by commit, then prepare")
	}
	p, err := domain.ParsePosition("position", a.String())
	if err != nil || p != a {
		t.Errorf("round trip %s: %v %v", a, p, err)
	}
	for _, s := range []string{"", "1", "1/x", "-1/2", "1/2/3"} {
		if _, err := domain.ParsePosition("position", s); !errors.Is(err, domain.ErrInvalid) {
			t.Errorf("ParsePosition(%q) accepted", s)
		}
	}
}

func TestExpectedRevision(t *testing.T) {
	if !domain.NoStream().IsNoStream() || !domain.ExpectNext(false, 7).IsNoStream() {
		t.Error("no-stream")
	}
	if r, ok := domain.ExpectNext(true, 7).Revision(); !ok || r != 7 {
		t.Error("exact 7")
	}
	if !domain.AnyRevision().IsAny() || domain.AnyRevision().String() != "any" {
		t.Error("any")
	}
	err := &domain.WrongExpectedVersionError{Stream: "s", Expected: domain.Exact(1), Actual: 3, ActualExists: true}
	if !errors.Is(err, domain.ErrConcurrency) || !errors.Is(err, domain.ErrWrongExpectedVersion) {
		t.Error("WrongExpectedVersionError does not match the concurrency errors")
	}
}

func TestFilterMatches(t *testing.T) {
	f := domain.Filter{StreamPrefixes: []string{"person-"}}
	if !f.Matches("person-1", "x.Y.v1") || f.Matches("payroll-1", "x.Y.v1") || f.Matches("person-1", "$metadata") {
		t.Error("prefix filter")
	}
	if !(domain.Filter{}).Matches("anything", "x.Y.v1") || (domain.Filter{}).Matches("x", "$statsCollected") {
		t.Error("empty filter passes ledger events and drops system events")
	}
}
