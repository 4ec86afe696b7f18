package roster

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/lushan-dpf/ledger/domain"
)

// FuzzRead: Read never panics, and either returns well-formed lines or a
// *FileError with at least one problem — never both.
func FuzzRead(f *testing.F) {
	z, l := zhang(f).Number(), li(f).Number()
	f.Add([]byte("身份证号,姓名,类别,纳入时间\r\n"+z+",张三,低保,2023/3/1\r\n"+l+",李四,特困,\r\n合计,,,\r\n"), uint8(0))
	f.Add([]byte("\ufeffid_number,name,category,monitoring_kind\n"+z+",张三,监测户,边缘易致贫户\n"+z+",张三,脱贫户,\n"), uint8(1))
	f.Add(gb18030(f, "姓名,证件号码,享受起始日期\r\n王五,"+l+",2020年10月1日\r\n"), uint8(2))
	f.Add(xlsxFile(f, [][]any{{"姓名", "身份证号", "死亡日期"}, {"张三", z, 45411}, {"张三", z, "2024-04-29"}}), uint8(3))
	f.Add([]byte("身份证号,姓名,死亡日期\n3.60427195111083E+17,张三,60\n\"x,\"y\n"), uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, s uint8) {
		source := domain.RosterSources[int(s)%len(domain.RosterSources)]
		r, err := Read(bytes.NewReader(data), "fuzz", source, asOf)
		if err != nil {
			var fe *FileError
			if !errors.As(err, &fe) || len(fe.Problems) == 0 {
				t.Fatalf("error %v is not a FileError with problems", err)
			}
			if r.Lines != nil {
				t.Fatalf("lines returned with an error")
			}
			return
		}
		prev := 1
		for _, l := range r.Lines {
			if l.Line <= prev || l.ID.IsZero() || l.Name == "" || !slices.Contains(source.Categories(), l.Category) ||
				l.Since.After(asOf) || l.DateOfDeath.After(asOf) || (source == domain.RosterDeaths) == l.DateOfDeath.IsZero() {
				t.Fatalf("malformed line accepted: %s", dump([]domain.RosterLine{l}))
			}
			prev = l.Line
		}
	})
}
