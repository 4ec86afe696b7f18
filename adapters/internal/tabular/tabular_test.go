package tabular

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/lushan-dpf/ledger/domain"
)

func TestWalkAndColumns(t *testing.T) {
	text := "\n序号,姓名（Name）,*ID:,其他\n1,张三,A,\n\n2,李四,B,,x\n合计,2,,\n"
	tb, err := Read(strings.NewReader(text), Source{Kind: "test file", Name: "t.csv", MaxSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	cols := Columns{
		Fields:   []string{"name", "id", "phone"},
		Synonyms: map[string]Synonym{"姓名": {Field: 0}, "name": {Field: 0}, "id": {Field: 1}, "电话": {Field: 2}},
	}
	var ps Problems
	var got []string
	tb.Walk(&ps, func(r Row) bool {
		c := cols.Find(r, &ps)
		if fmt.Sprint(c) != "[1 2 -1]" || r.No != 2 {
			t.Errorf("header on line %d: columns %v, want [1 2 -1] on line 2", r.No, c)
		}
		return true
	}, func(r Row) {
		got = append(got, fmt.Sprintf("%d:%s/%s/%q", r.No, r.Field(1), r.Field(2), r.Field(-1)))
	})
	if want := `[3:张三/A/"" 5:李四/B/""]`; fmt.Sprint(got) != want {
		t.Errorf("lines %v, want %s", got, want)
	}
	if want := `[line 5: line: has 5 fields but the header has 4; quote fields that contain a comma]`; fmt.Sprint(ps) != want {
		t.Errorf("problems %v, want %s", ps, want)
	}
	err = tb.Err(ps)
	var fe *FileError
	if !errors.As(err, &fe) || !errors.Is(err, domain.ErrInvalid) ||
		err.Error() != `test file "t.csv": line 5: line: has 5 fields but the header has 4; quote fields that contain a comma` {
		t.Errorf("error %v", err)
	}
	if tb.Err(nil) != nil {
		t.Errorf("no problems is an error")
	}
	if got := (&FileError{Name: "x", Problems: []LineProblem{{Field: "file", Reason: "is odd"}}}).Error(); got != `file "x": file: is odd` {
		t.Errorf("error without a kind: %s", got)
	}
}

func TestNameKeys(t *testing.T) {
	for in, want := range map[string]string{
		"付款参考号(Reference)": "[付款参考号(reference) 付款参考号 reference]",
		"乡镇（街道）":           "[乡镇（街道） 乡镇 街道]",
		" *Bank_Ref: ":     "[bank ref]",
		"\ufeffID-Number：": "[id number]",
	} {
		if got := fmt.Sprint(NameKeys(in)); got != want {
			t.Errorf("NameKeys(%q) = %s, want %s", in, got, want)
		}
	}
}
