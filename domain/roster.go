package domain

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
)

// Rosters are the lists other departments keep of the people they support
// — civil affairs' minimum living guarantee (低保), support for persons in
// extreme poverty (特困) and urban needy (城镇困难群众); rural affairs'
// households lifted from poverty (脱贫户) and monitored households (监测户);
// human resources' work-injury nursing allowance (工伤护理费); death
// records. The ledger does not copy them: it cross-checks them with its own
// facts every month and proposes the changes that follow (CrossCheck).

// RosterSource is the department a roster comes from.
type RosterSource string

const (
	RosterCivilAffairs   RosterSource = "civil_affairs"   // 民政: 低保, 特困, 城镇困难群众
	RosterRuralAffairs   RosterSource = "rural_affairs"   // 农业农村 (乡村振兴): 脱贫户, 监测户
	RosterHumanResources RosterSource = "human_resources" // 人力资源和社会保障: 工伤护理费
	RosterDeaths         RosterSource = "deaths"          // 死亡记录 (公安, 卫生健康, 民政殡葬)
)

// RosterSources lists every source, in a fixed order.
var RosterSources = []RosterSource{RosterCivilAffairs, RosterRuralAffairs, RosterHumanResources, RosterDeaths}

// ParseRosterSource parses a roster source.
func ParseRosterSource(field, s string) (RosterSource, error) {
	if src := RosterSource(s); slices.Contains(RosterSources, src) {
		return src, nil
	}
	return "", Invalid(field, "%s is not a roster source; expected %s", quoteTrunc(s), joinCodes(RosterSources))
}

// RosterCategory is what a roster line says about a person.
type RosterCategory string

const (
	RosterDibao             RosterCategory = "dibao"               // 低保
	RosterTekun             RosterCategory = "tekun"               // 特困
	RosterUrbanNeedy        RosterCategory = "urban_needy"         // 城镇困难群众
	RosterLifted            RosterCategory = "lifted_from_poverty" // 脱贫户
	RosterMonitoredMarginal RosterCategory = "monitored_marginal"  // 监测户: 边缘易致贫
	RosterMonitoredUnstable RosterCategory = "monitored_unstable"  // 监测户: 脱贫不稳定
	RosterMonitoredHardship RosterCategory = "monitored_hardship"  // 监测户: 突发严重困难
	RosterWorkInjuryNursing RosterCategory = "work_injury_nursing" // 工伤护理费
	RosterDeath             RosterCategory = "death"               // 死亡
)

// Categories returns the categories a roster of the source may hold.
func (s RosterSource) Categories() []RosterCategory {
	switch s {
	case RosterCivilAffairs:
		return []RosterCategory{RosterDibao, RosterTekun, RosterUrbanNeedy}
	case RosterRuralAffairs:
		return []RosterCategory{RosterLifted, RosterMonitoredMarginal, RosterMonitoredUnstable, RosterMonitoredHardship}
	case RosterHumanResources:
		return []RosterCategory{RosterWorkInjuryNursing}
	case RosterDeaths:
		return []RosterCategory{RosterDeath}
	}
	return nil
}

// householdClass is the household class a rural-affairs or urban-needy
// category records; HouseholdNone for the others.
func (c RosterCategory) householdClass() HouseholdClass {
	switch c {
	case RosterLifted:
		return HouseholdLiftedFromPoverty
	case RosterMonitoredMarginal:
		return HouseholdMonitoredMarginal
	case RosterMonitoredUnstable:
		return HouseholdMonitoredUnstable
	case RosterMonitoredHardship:
		return HouseholdMonitoredHardship
	case RosterUrbanNeedy:
		return HouseholdUrbanNeedy
	}
	return HouseholdNone
}

// RosterLine is one line of a roster, as parsed from the department's
// file. IDHash is filled by the application (the domain holds no key).
type RosterLine struct {
	Line        int // in the file: the header is line 1 of a CSV
	ID          ResidentID
	IDHash      string
	Name        string
	Township    string // as the department wrote it
	Category    RosterCategory
	Since       Date // when the person joined the list; zero if not given
	DateOfDeath Date // deaths only
}

// Roster is a department's whole list on a day: everyone not on it is,
// for that department, not supported (the ledger reads each roster as
// complete).
type Roster struct {
	Source     RosterSource
	AsOf       Date // the day the list describes
	Lines      []RosterLine
	Duplicates int // lines that repeated an earlier one exactly, dropped
}

// Event types of the roster streams.
const (
	TypeRosterDifferencesFound = "roster.RosterDifferencesFound.v2"
	// TypeRosterDifferencesFoundV1 held names and masked ID numbers in
	// clear; upcast to v2 on reading.
	TypeRosterDifferencesFoundV1 = "roster.RosterDifferencesFound.v1"
	TypeRosterImported           = "roster.RosterImported.v1"
	RosterStreamPrefix           = "rosters-"
)

// RosterStream is the stream of a source's imports.
func RosterStream(s RosterSource) string { return RosterStreamPrefix + string(s) }

// RosterDifferencesBytes bounds the JSON of one RosterDifferencesFound's
// differences (about 500 of them), so that every event stays within
// MaxEventBytes however long the roster.
const RosterDifferencesBytes = 128 << 10

// RosterDifferencesFound holds a part of an import's differences. The
// import's RosterImported follows its parts and names their attempt;
// parts of an attempt that never completed (a crash) are ignored.
type RosterDifferencesFound struct {
	ImportID    string             `json:"import_id"`
	Attempt     string             `json:"attempt"`
	Part        int                `json:"part"` // from 0
	Differences []RosterDifference `json:"differences"`
	// sealed is each difference's personal data, sealed: set by
	// SealPersonal, or read from the store until opened.
	sealed []Sealed
}

// RosterImported: a department's roster was cross-checked with the ledger.
// It records what was read (the file's SHA-256, lines, counts per
// category), what it found and proposed, and who imported it. The same
// file imported again is recognised by its hash and changes nothing.
type RosterImported struct {
	ImportID    string                 `json:"import_id"`
	Attempt     string                 `json:"attempt"`
	Source      RosterSource           `json:"source"`
	AsOf        Date                   `json:"as_of"`
	FileName    string                 `json:"file_name"`
	FileSHA256  string                 `json:"file_sha256"`
	Lines       int                    `json:"lines"`
	Duplicates  int                    `json:"duplicates"`
	Categories  map[RosterCategory]int `json:"categories"`
	Matched     int                    `json:"matched"` // lines of persons the ledger knows
	Unknown     int                    `json:"unknown"`
	Parts       int                    `json:"parts"`
	Differences map[DifferenceKind]int `json:"differences"`
	Proposed    int                    `json:"proposed"` // change proposals appended
	ImportedBy  string                 `json:"imported_by"`
}

func (RosterDifferencesFound) EventType() string { return TypeRosterDifferencesFound }

// storedDifference is a RosterDifference as a RosterDifferencesFound
// stores it: the name and masked ID number sealed with the key of the
// person (or, for a person unknown to the ledger, of the subject).
type storedDifference struct {
	Person      PersonID       `json:"person_id,omitempty"`
	Subject     PersonID       `json:"subject,omitempty"`
	Personal    Sealed         `json:"personal,omitempty"`
	LegacyClear *diffPersonal  `json:"legacy_clear,omitempty"`
	Township    string         `json:"township"`
	Kind        DifferenceKind `json:"kind"`
	Line        int            `json:"line,omitempty"`
	EffectiveOn Date           `json:"effective_on,omitzero"`
	ProposalID  string         `json:"proposal_id,omitempty"`
	Note        string         `json:"note,omitempty"`
}

type diffPersonal struct {
	IDMasked string `json:"id_masked"`
	Name     string `json:"name"`
}

type rosterDifferencesJSON struct {
	ImportID    string             `json:"import_id"`
	Attempt     string             `json:"attempt"`
	Part        int                `json:"part"`
	Differences []storedDifference `json:"differences"`
}

// MarshalJSON writes the differences as stored; their personal data must
// have been sealed (SealPersonal).
func (e RosterDifferencesFound) MarshalJSON() ([]byte, error) {
	if err := e.checkSealed(); err != nil {
		return nil, err
	}
	out := rosterDifferencesJSON{ImportID: e.ImportID, Attempt: e.Attempt, Part: e.Part, Differences: make([]storedDifference, len(e.Differences))}
	for i, d := range e.Differences {
		out.Differences[i] = storedDifference{Person: d.Person, Subject: d.Subject, Personal: e.sealed[i], Township: d.Township, Kind: d.Kind,
			Line: d.Line, EffectiveOn: d.EffectiveOn, ProposalID: d.ProposalID, Note: d.Note}
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads the differences as stored, their personal data
// still sealed until the registry opens it.
func (e *RosterDifferencesFound) UnmarshalJSON(b []byte) error {
	var in rosterDifferencesJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	*e = RosterDifferencesFound{ImportID: in.ImportID, Attempt: in.Attempt, Part: in.Part,
		Differences: make([]RosterDifference, len(in.Differences)), sealed: make([]Sealed, len(in.Differences))}
	for i, d := range in.Differences {
		e.Differences[i] = RosterDifference{Person: d.Person, Subject: d.Subject, Township: d.Township, Kind: d.Kind,
			Line: d.Line, EffectiveOn: d.EffectiveOn, ProposalID: d.ProposalID, Note: d.Note}
		e.sealed[i] = d.Personal
		if d.LegacyClear != nil {
			e.Differences[i].IDMasked, e.Differences[i].Name = d.LegacyClear.IDMasked, d.LegacyClear.Name
			e.sealed[i] = "" // read in clear; never sealed
		}
	}
	return nil
}

func (e RosterDifferencesFound) sealPersonal(ctx context.Context, keys PersonalKeys, _ PersonID) (Event, error) {
	e.sealed = make([]Sealed, len(e.Differences))
	for i, d := range e.Differences {
		var err error
		if e.sealed[i], err = sealJSON(ctx, keys, d.keyOf(), diffPersonal{IDMasked: d.IDMasked, Name: d.Name}); err != nil {
			return nil, err
		}
	}
	return e, nil
}

func (e RosterDifferencesFound) checkSealed() error {
	if len(e.sealed) != len(e.Differences) || slices.Contains(e.sealed, "") {
		return errNotSealed(TypeRosterDifferencesFound)
	}
	return nil
}

func (e *RosterDifferencesFound) openPersonal(ctx context.Context, keys PersonalKeys) error {
	for i, s := range e.sealed {
		if s == "" {
			continue // read in clear (v1)
		}
		var p diffPersonal
		erased, err := openJSON(ctx, keys, s, &p)
		if err != nil {
			return err
		}
		d := &e.Differences[i]
		d.IDMasked, d.Name, d.Erased = p.IDMasked, p.Name, erased
	}
	return nil
}

// upcastRosterDifferencesV1 moves each difference's name and masked ID
// number into its legacy_clear object.
func upcastRosterDifferencesV1(data []byte) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	var diffs []map[string]json.RawMessage
	if err := json.Unmarshal(m["differences"], &diffs); err != nil {
		return nil, err
	}
	for _, d := range diffs {
		moveLegacyClear(d, []string{"id_masked", "name"})
	}
	b, err := json.Marshal(diffs)
	if err != nil {
		return nil, err
	}
	m["differences"] = b
	return json.Marshal(m)
}
func (RosterImported) EventType() string { return TypeRosterImported }

// RosterImportID is the ID of an import of a file: the first 16 hex
// characters of its SHA-256.
func RosterImportID(fileSHA256 string) string { return fileSHA256[:min(16, len(fileSHA256))] }

// RosterImports is a roster stream folded: the completed imports by file
// hash.
type RosterImports map[string]RosterImported

// EvolveRosterImports folds an event of a roster stream into m.
func EvolveRosterImports(m RosterImports, e Event) RosterImports {
	if r, ok := e.(*RosterImported); ok {
		if m == nil {
			m = RosterImports{}
		}
		m[r.FileSHA256] = *r
	}
	return m
}

func rosterEventProtos() []func() Event {
	return []func() Event{
		func() Event { return new(RosterDifferencesFound) },
		func() Event { return new(RosterImported) },
	}
}

// ParseRosterImportID parses an import ID: 16 lowercase hex characters.
func ParseRosterImportID(field, s string) (string, error) {
	if len(s) != 16 || strings.Trim(s, "0123456789abcdef") != "" {
		return "", Invalid(field, "%s is not an import ID: 16 lowercase hex characters, as the import answered", quoteTrunc(s))
	}
	return s, nil
}

// CheckRosterFileName checks the name a roster file was uploaded with.
func CheckRosterFileName(field, s string) error { return checkText(field, s, 200) }
