package roster

import (
	"strings"
	"unicode"

	"github.com/lushan-dpf/ledger/adapters/internal/tabular"
	"github.com/lushan-dpf/ledger/domain"
)

// words are the texts that mean a category; the first is how messages
// call it.
type words struct {
	category domain.RosterCategory
	texts    []string
}

var (
	civilWords = []words{
		{domain.RosterDibao, []string{"低保", "城市低保", "农村低保", "城乡低保", "最低生活保障"}},
		{domain.RosterTekun, []string{"特困", "特困供养", "特困人员", "特困供养人员"}},
		{domain.RosterUrbanNeedy, []string{"城镇困难群众", "城镇困难职工", "困难群众"}},
	}
	liftedWords    = words{domain.RosterLifted, []string{"脱贫户", "脱贫人口", "脱贫户(已脱贫)"}}
	monitoredWords = []string{"监测户", "监测对象", "防返贫监测对象"}
	kindWords      = []words{
		{domain.RosterMonitoredMarginal, []string{"边缘易致贫户", "边缘易致贫"}},
		{domain.RosterMonitoredUnstable, []string{"脱贫不稳定户", "脱贫不稳定"}},
		{domain.RosterMonitoredHardship, []string{"突发严重困难户", "突发严重困难"}},
	}
)

var (
	civilCategories = lookup(civilWords...)
	ruralCategories = lookup(append([]words{liftedWords}, kindWords...)...)
	monitoringKinds = lookup(kindWords...)
	monitored       = lookup(words{texts: monitoredWords})
)

// The accepted texts, for messages.
var (
	civilAccepted = accepted(civilWords, " or ")
	kindsAccepted = accepted(kindWords, " or ")
	ruralAccepted = accepted([]words{liftedWords}, "") + "; or " + accepted([]words{{texts: monitoredWords}}, "") +
		" with the monitoring kind in its own column; or the monitoring kind itself: " + kindsAccepted
)

// categoryLabels name the categories in messages, as departments write
// them.
var categoryLabels = map[domain.RosterCategory]string{
	domain.RosterDibao:             "低保",
	domain.RosterTekun:             "特困",
	domain.RosterUrbanNeedy:        "城镇困难群众",
	domain.RosterLifted:            "脱贫户",
	domain.RosterMonitoredMarginal: "监测户(边缘易致贫户)",
	domain.RosterMonitoredUnstable: "监测户(脱贫不稳定户)",
	domain.RosterMonitoredHardship: "监测户(突发严重困难户)",
	domain.RosterWorkInjuryNursing: "工伤护理费",
	domain.RosterDeath:             "死亡",
}

// lookup maps every text of ws, normalised, and every category code to its
// category.
func lookup(ws ...words) map[string]domain.RosterCategory {
	m := map[string]domain.RosterCategory{}
	for _, w := range ws {
		if w.category != "" {
			m[string(w.category)] = w.category
		}
		for _, t := range w.texts {
			m[normCategory(t)] = w.category
		}
	}
	return m
}

// accepted lists the texts of ws for a message: 低保 (or 城市低保, ...),
// 特困 (or ...) or 城镇困难群众 (or ...); the last pair is joined by last.
func accepted(ws []words, last string) string {
	var b strings.Builder
	for i, w := range ws {
		switch {
		case i == 0:
		case i == len(ws)-1 && last != "":
			b.WriteString(last)
		default:
			b.WriteString(", ")
		}
		b.WriteString(w.texts[0])
		if len(w.texts) > 1 {
			b.WriteString(" (or " + strings.Join(w.texts[1:], ", ") + ")")
		}
	}
	return b.String()
}

// normCategory drops spaces, reads full-width parentheses as ASCII ones
// and lower-cases the category codes.
func normCategory(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case unicode.IsSpace(r):
			return -1
		case r == '（':
			return '('
		case r == '）':
			return ')'
		}
		return unicode.ToLower(r)
	}, s)
}

// category reads the category of a line, which the source decides.
func (p *parser) category(r tabular.Row) domain.RosterCategory {
	switch p.source {
	case domain.RosterCivilAffairs:
		s := p.get(r, colCategory)
		if c, ok := civilCategories[normCategory(s)]; ok {
			return c
		}
		p.unknownCategory(r.No, s, civilAccepted)
	case domain.RosterRuralAffairs:
		return p.rural(r)
	case domain.RosterHumanResources:
		return domain.RosterWorkInjuryNursing
	case domain.RosterDeaths:
		return domain.RosterDeath
	}
	return ""
}

// rural reads the category of a rural affairs line: the category column,
// and for a monitored household the monitoring kind.
func (p *parser) rural(r tabular.Row) domain.RosterCategory {
	s := p.get(r, colCategory)
	if c, ok := ruralCategories[normCategory(s)]; ok {
		return c
	}
	if _, ok := monitored[normCategory(s)]; !ok {
		p.unknownCategory(r.No, s, ruralAccepted)
		return ""
	}
	kind := p.get(r, colKind)
	switch c, ok := monitoringKinds[normCategory(kind)]; {
	case ok:
		return c
	case p.cols[colKind] < 0:
		p.problems.Add(r.No, "monitoring_kind", "a 监测户 line needs the monitoring kind (%s) and the file has no column for it: "+
			"add one named %s, or write the kind in the category column", kindsAccepted, columns.Known(colKind))
	case kind == "":
		p.problems.Add(r.No, "monitoring_kind", "is empty; a 监测户 line needs the monitoring kind: %s", kindsAccepted)
	default:
		p.problems.Add(r.No, "monitoring_kind", "%s is not a monitoring kind; write %s", show(kind), kindsAccepted)
	}
	return ""
}

func (p *parser) unknownCategory(lineNo int, s, accepted string) {
	if s == "" {
		p.problems.Add(lineNo, "category", "is empty; write %s", accepted)
		return
	}
	p.problems.Add(lineNo, "category", "%s is not a category of a %s roster; write %s", show(s), sourceLabels[p.source], accepted)
}

// excludes reports whether a person cannot be in categories a and b (two
// different categories) at once.
func excludes(a, b domain.RosterCategory) bool {
	pair := func(x, y domain.RosterCategory) bool { return a == x && b == y || a == y && b == x }
	rural := func(c domain.RosterCategory) bool { _, ok := ruralCategories[string(c)]; return ok }
	return pair(domain.RosterDibao, domain.RosterTekun) || rural(a) && rural(b)
}
