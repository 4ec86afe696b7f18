package projections_test

import (
	"slices"
	"testing"

	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
)

// unprojectedCategories are the event categories of the registry that no
// read model reads, beyond the event index.
var unprojectedCategories = []string{
	"notice", // the change notices issued; their stream is their record
}

// Every read model declares the event categories it reads, and every
// event type the ledger's registry decodes in those categories is either
// handled by the read model's routing table (the table Apply dispatches
// through) or ignored by name. A new event type therefore fails here until
// each read model that reads its category has handled or ignored it; a
// new category fails until some read model reads it or it is listed in
// unprojectedCategories.
func TestEveryEventTypeIsHandledOrIgnored(t *testing.T) {
	reg := domain.NewLedgerRegistry()
	types := slices.Sorted(slices.Values(reg.Types()))
	registered := map[string]bool{}
	for _, typ := range types {
		registered[typ] = true
	}
	read := map[string]bool{}
	for _, c := range unprojectedCategories {
		read[c] = true
	}
	for _, p := range projections.All() {
		ip, ok := p.(projections.Interested)
		if !ok {
			t.Errorf("read model %s does not declare its interest (projections.Interested)", p.Name())
			continue
		}
		in := ip.Interest()
		if in.AnyType {
			if len(in.Categories)+len(in.Handles)+len(in.Ignores) > 0 {
				t.Errorf("read model %s treats every type alike but names categories or types: %+v", p.Name(), in)
			}
			continue
		}
		if len(in.Categories) == 0 || len(in.Handles) == 0 {
			t.Errorf("read model %s reads no category or handles no type: %+v", p.Name(), in)
		}
		categories := map[string]bool{}
		for _, c := range in.Categories {
			categories[c], read[c] = true, true
		}
		decided := map[string]string{} // type → "handles" or "ignores"
		for _, list := range []struct {
			verb  string
			types []string
		}{{"handles", in.Handles}, {"ignores", in.Ignores}} {
			for _, typ := range list.types {
				switch {
				case decided[typ] != "":
					t.Errorf("read model %s %s %s and also %s it", p.Name(), decided[typ], typ, list.verb)
				case !registered[typ]:
					t.Errorf("read model %s %s %s, which the registry does not decode", p.Name(), list.verb, typ)
				case !categories[domain.EventCategory(typ)]:
					t.Errorf("read model %s %s %s, outside the categories it reads %v", p.Name(), list.verb, typ, in.Categories)
				}
				decided[typ] = list.verb
			}
		}
		for _, typ := range types {
			if categories[domain.EventCategory(typ)] && decided[typ] == "" {
				t.Errorf("read model %s reads category %q but neither handles nor ignores %s: route it in its routing table or list it among the types it ignores",
					p.Name(), domain.EventCategory(typ), typ)
			}
		}
	}
	for _, typ := range types {
		if c := domain.EventCategory(typ); !read[c] {
			t.Errorf("no read model reads category %q (of %s): read it in one, or list it in unprojectedCategories", c, typ)
			read[c] = true
		}
	}
}
