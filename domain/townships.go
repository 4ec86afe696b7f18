package domain

import (
	"slices"
	"strings"
)

// Township is one township (乡镇) of the county in the township register:
// where persons live, payments are counted and notices go. Townships are
// reference data with effective dates — a county merges, splits and
// renames them by decision of the provincial government — so a township
// is valid on the dates in [From, To] (From zero: since before the
// ledger's records; To zero: still in force).
type Township struct {
	Code string // the county's code for it, in the nine digits of the administrative division code
	Name string
	From Date // first day in force; zero: since before any record
	To   Date // last day in force; zero while it stands
}

// InForceOn reports whether the township exists on d.
func (t Township) InForceOn(d Date) bool {
	return !d.Before(t.From) && (t.To.IsZero() || !d.After(t.To))
}

// span says when the township was in force, in words.
func (t Township) span() string {
	switch {
	case t.From.IsZero() && t.To.IsZero():
		return "always"
	case t.From.IsZero():
		return "until " + t.To.String()
	case t.To.IsZero():
		return "from " + t.From.String()
	}
	return "from " + t.From.String() + " to " + t.To.String()
}

// townshipRegister is the county's township register: the twelve
// townships of 庐山市 (administrative division code 360483) that the
// federation serves, as the demo county has them (codes numbered in the
// county's range for the demo, not the statistics bureau's), each in
// force since before the ledger's records. A county deploying the
// ledger keeps its own register here, as it keeps its programs in the
// catalog; a change is a new row with its dates, never an edit of a row
// in force, so that a person's township on a past date stays valid.
var townshipRegister = []Township{
	{Code: "360483100", Name: "南康镇"},
	{Code: "360483101", Name: "白鹿镇"},
	{Code: "360483102", Name: "温泉镇"},
	{Code: "360483103", Name: "蛟塘镇"},
	{Code: "360483104", Name: "华林镇"},
	{Code: "360483105", Name: "横塘镇"},
	{Code: "360483106", Name: "星子镇"},
	{Code: "360483107", Name: "海会镇"},
	{Code: "360483108", Name: "牯岭镇"},
	{Code: "360483200", Name: "蓼南乡"},
	{Code: "360483201", Name: "泽泉乡"},
	{Code: "360483202", Name: "苏家垱乡"},
}

// Townships returns the township register, in code order.
func Townships() []Township { return slices.Clone(townshipRegister) }

// TownshipsOn returns the townships in force on d, in code order.
func TownshipsOn(d Date) []Township {
	var out []Township
	for _, t := range townshipRegister {
		if t.InForceOn(d) {
			out = append(out, t)
		}
	}
	return out
}

// CheckTownship checks that name is a township of the register in force on
// d. The error names field and lists the townships of that day; a
// resident ID number typed into the field is refused without repeating it.
func CheckTownship(field, name string, d Date) (Township, error) {
	if err := checkText(field, name, 50); err != nil {
		return Township{}, err
	}
	if _, err := ParseResidentID(field, name); err == nil || countDigits(name) >= 10 {
		return Township{}, Invalid(field, "looks like an ID number, not a township: type the township's name, e.g. 白鹿镇")
	}
	var known []Township
	for _, t := range townshipRegister {
		if t.Name != name {
			continue
		}
		if t.InForceOn(d) {
			return t, nil
		}
		known = append(known, t)
	}
	names := make([]string, 0, len(townshipRegister))
	for _, t := range TownshipsOn(d) {
		names = append(names, t.Name)
	}
	if len(known) > 0 {
		t := known[len(known)-1]
		return Township{}, Invalid(field, "%s was a township %s, not on %s; townships on that day: %s",
			quoteTrunc(name), t.span(), d, strings.Join(names, "、"))
	}
	return Township{}, Invalid(field, "%s is not a township of the county; townships on %s: %s", quoteTrunc(name), d, strings.Join(names, "、"))
}

// countDigits counts the ASCII and full-width digits of s.
func countDigits(s string) int {
	n := 0
	for _, r := range s {
		if '0' <= r && r <= '9' || '０' <= r && r <= '９' {
			n++
		}
	}
	return n
}
