package roster

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/lushan-dpf/ledger/domain"
)

var asOf = domain.MustDate("2024-06-30")

// rid is the valid ID number of a person of area born on birth.
func rid(t testing.TB, area, birth string, seq int) domain.ResidentID {
	t.Helper()
	id, err := domain.NewResidentID(area, domain.MustDate(birth), seq)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// People of the tests: 庐山市 and nearby counties of Jiujiang.
var (
	zhang = func(t testing.TB) domain.ResidentID { return rid(t, "360427", "1951-11-08", 301) }
	li    = func(t testing.TB) domain.ResidentID { return rid(t, "360427", "1965-03-12", 22) }
	wang  = func(t testing.TB) domain.ResidentID { return rid(t, "360402", "1988-07-01", 117) }
	zhao  = func(t testing.TB) domain.ResidentID { return rid(t, "360429", "2003-12-31", 46) }
)

func gb18030(t testing.TB, s string) []byte {
	t.Helper()
	b, err := simplifiedchinese.GB18030.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// xlsxFile builds a one-sheet workbook; strings become string cells,
// numbers number cells.
func xlsxFile(t testing.TB, rows [][]any) []byte {
	t.Helper()
	x := excelize.NewFile()
	defer x.Close()
	for i, r := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := x.SetSheetRow("Sheet1", cell, &r); err != nil {
			t.Fatal(err)
		}
	}
	buf, err := x.WriteToBuffer()
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func line(no int, id domain.ResidentID, name, township string, c domain.RosterCategory, since, died string) domain.RosterLine {
	l := domain.RosterLine{Line: no, ID: id, Name: name, Township: township, Category: c}
	if since != "" {
		l.Since = domain.MustDate(since)
	}
	if died != "" {
		l.DateOfDeath = domain.MustDate(died)
	}
	return l
}

func sameRoster(t *testing.T, got domain.Roster, source domain.RosterSource, duplicates int, want []domain.RosterLine) {
	t.Helper()
	if got.Source != source || !got.AsOf.Equal(asOf) || got.Duplicates != duplicates {
		t.Errorf("roster %s on %s with %d duplicates, want %s on %s with %d", got.Source, got.AsOf, got.Duplicates, source, asOf, duplicates)
	}
	if len(got.Lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n got %s\nwant %s", len(got.Lines), len(want), dump(got.Lines), dump(want))
	}
	for i, w := range want {
		g := got.Lines[i]
		if g.Line != w.Line || !g.ID.Equal(w.ID) || g.IDHash != "" || g.Name != w.Name || g.Township != w.Township ||
			g.Category != w.Category || !g.Since.Equal(w.Since) || !g.DateOfDeath.Equal(w.DateOfDeath) {
			t.Errorf("line %d:\n got %s\nwant %s", i, dump(got.Lines[i:i+1]), dump(want[i:i+1]))
		}
	}
}

func dump(lines []domain.RosterLine) string {
	var b strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&b, "\n  {line %d %s %q %q %s since %q died %q hash %q}",
			l.Line, l.ID.Number(), l.Name, l.Township, l.Category, l.Since, l.DateOfDeath, l.IDHash)
	}
	return b.String()
}

func read(t *testing.T, data []byte, source domain.RosterSource) domain.Roster {
	t.Helper()
	r, err := Read(bytes.NewReader(data), "roster", source, asOf)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestReadCivilAffairsGB18030(t *testing.T) {
	legacy, err := domain.ParseResidentID("id", "360427520229031") // first generation: 1952-02-29, sequence 031
	if err != nil {
		t.Fatal(err)
	}
	// As a township's clerk exports it from Excel on Windows: GB18030,
	// columns in their own order, a sequence and householder column, a
	// phone number and a total line.
	file := "序号,乡镇（街道）,户主姓名,姓名,救助类别,纳入时间,公民身份号码,联系电话\r\n" +
		"1,白鹿镇,张三,张三,城市低保,2023/3/1," + zhang(t).Number() + ",13807920001\r\n" +
		"2, 温泉镇 ,李四,李四, 特困供养人员 ,2022年7月15日,\" " + spaced(li(t).Number()) + " \",\r\n" +
		"3,华林镇,王五,王𪚥,城镇困难职工,20240105," + wang(t).Number() + ",\r\n" +
		"4,,赵六,赵六,农村低保,2021.12.1," + legacy.Number()[:6] + legacy.Number()[8:17] + ",\r\n" +
		"5,白鹿镇,赵六,赵七,低保,," + zhao(t).Number() + ",\r\n" +
		",,,,,,,\r\n" +
		"合计,,,5人,,,,\r\n"
	got := read(t, gb18030(t, file), domain.RosterCivilAffairs)
	sameRoster(t, got, domain.RosterCivilAffairs, 0, []domain.RosterLine{
		line(2, zhang(t), "张三", "白鹿镇", domain.RosterDibao, "2023-03-01", ""),
		line(3, li(t), "李四", "温泉镇", domain.RosterTekun, "2022-07-15", ""),
		line(4, wang(t), "王𪚥", "华林镇", domain.RosterUrbanNeedy, "2024-01-05", ""),
		line(5, legacy, "赵六", "", domain.RosterDibao, "2021-12-01", ""),
		line(6, zhao(t), "赵七", "白鹿镇", domain.RosterDibao, "", ""),
	})
}

// spaced writes an ID number as people paste it: in groups, with a
// lower-case x and a full-width digit.
func spaced(n string) string {
	n = strings.ReplaceAll(n, "X", "x")
	return n[:6] + " " + n[6:14] + "　" + strings.Replace(n[14:], "0", "０", 1)
}

func TestReadUTF8WithBOMEnglishHeaders(t *testing.T) {
	file := "\ufeffID_Number,Name,Township,Category,Since,Note\n" +
		"\n" +
		zhang(t).Number() + ",张三,白鹿镇,dibao,2023-03-01,\n" +
		li(t).Number() + ",李四,温泉镇,特困人员,2022-07-15 00:00:00,,,\n" +
		wang(t).Number() + ",王五,,困难群众,,moved\n" +
		// 城镇困难群众 does not exclude 低保: both lines are kept.
		zhang(t).Number() + ",张三,白鹿镇,城镇困难群众,2023-03-01,\n"
	got := read(t, []byte(file), domain.RosterCivilAffairs)
	sameRoster(t, got, domain.RosterCivilAffairs, 0, []domain.RosterLine{
		line(3, zhang(t), "张三", "白鹿镇", domain.RosterDibao, "2023-03-01", ""),
		line(4, li(t), "李四", "温泉镇", domain.RosterTekun, "2022-07-15", ""),
		line(5, wang(t), "王五", "", domain.RosterUrbanNeedy, "", ""),
		line(6, zhang(t), "张三", "白鹿镇", domain.RosterUrbanNeedy, "2023-03-01", ""),
	})
}

func TestReadRuralAffairsXLSX(t *testing.T) {
	file := xlsxFile(t, [][]any{
		{"序号", "姓名", "身份证号码", "所属乡镇", "户类型", "监测对象类别", "识别时间"},
		{1, "张三", zhang(t).Number(), "白鹿镇", "脱贫户（已脱贫）", nil, 45296}, // a date cell: 2024-01-05
		{2, "李四", li(t).Number(), "温泉镇", "监测户", "边缘易致贫户", "2023-06-30"},
		{},
		{3, "王五", wang(t).Number(), "华林镇", "监测对象", "脱贫不稳定", "2022/9/1"},
		{4, "赵六", zhao(t).Number(), "", "突发严重困难户", nil, nil},
		{"合计", nil, nil, nil, "4户"},
	})
	got := read(t, file, domain.RosterRuralAffairs)
	sameRoster(t, got, domain.RosterRuralAffairs, 0, []domain.RosterLine{
		line(2, zhang(t), "张三", "白鹿镇", domain.RosterLifted, "2024-01-05", ""),
		line(3, li(t), "李四", "温泉镇", domain.RosterMonitoredMarginal, "2023-06-30", ""),
		line(5, wang(t), "王五", "华林镇", domain.RosterMonitoredUnstable, "2022-09-01", ""),
		line(6, zhao(t), "赵六", "", domain.RosterMonitoredHardship, "", ""),
	})
}

func TestReadDeathsCountsDuplicates(t *testing.T) {
	// The same death reported by the police and by the funeral home.
	file := "姓名,身份证号,死亡日期,乡镇,来源\n" +
		"张三," + zhang(t).Number() + ",2024年5月3日,白鹿镇,公安\n" +
		"李四," + li(t).Number() + ",2024-06-30,温泉镇,卫健\n" +
		"张三," + zhang(t).Number() + ",2024-05-03,白鹿镇,殡葬\n" +
		"张三," + zhang(t).Number() + ",20240503,,殡葬\n"
	got := read(t, []byte(file), domain.RosterDeaths)
	sameRoster(t, got, domain.RosterDeaths, 2, []domain.RosterLine{
		line(2, zhang(t), "张三", "白鹿镇", domain.RosterDeath, "", "2024-05-03"),
		line(3, li(t), "李四", "温泉镇", domain.RosterDeath, "", "2024-06-30"),
	})
}

func TestReadHumanResources(t *testing.T) {
	// The category column is optional and ignored: every line is the
	// work-injury nursing allowance.
	file := "姓名,证件号码,享受起始日期,类别,护理等级\r\n" +
		"王五," + wang(t).Number() + ",2020-10-01,工伤,一级\r\n" +
		"赵六," + zhao(t).Number() + ",,,二级\r\n"
	got := read(t, []byte(file), domain.RosterHumanResources)
	sameRoster(t, got, domain.RosterHumanResources, 0, []domain.RosterLine{
		line(2, wang(t), "王五", "", domain.RosterWorkInjuryNursing, "2020-10-01", ""),
		line(3, zhao(t), "赵六", "", domain.RosterWorkInjuryNursing, "", ""),
	})
}

func TestReadHeaderOnlyIsAnEmptyRoster(t *testing.T) {
	got := read(t, []byte("身份证号,姓名,死亡日期\r\n合计,0,\r\n"), domain.RosterDeaths)
	sameRoster(t, got, domain.RosterDeaths, 0, nil)
	if got.Lines != nil {
		t.Errorf("lines %v, want nil", got.Lines)
	}
}

type problem struct {
	line  int
	field string
}

// problemsOf checks err is a *FileError that names no ID number and
// returns its problems, with their messages by line and field.
func problemsOf(t *testing.T, err error) ([]problem, map[problem]string) {
	t.Helper()
	var fe *FileError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T), want a *FileError", err, err)
	}
	if !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("a FileError does not wrap domain.ErrInvalid")
	}
	if longDigits.MatchString(err.Error()) {
		t.Errorf("message holds an ID number: %s", err)
	}
	var got []problem
	reasons := map[problem]string{}
	for _, p := range fe.Problems {
		if p.Reason == "" {
			t.Errorf("problem %+v has no reason", p)
		}
		if longDigits.MatchString(p.Reason) {
			t.Errorf("problem %+v holds an ID number", p)
		}
		k := problem{p.LineNo, p.Field}
		got = append(got, k)
		reasons[k] += p.Reason
	}
	return got, reasons
}

var longDigits = regexp.MustCompile(`[0-9０-９]{9,}`)

func TestReadReportsEveryProblemAndReturnsNothing(t *testing.T) {
	z, l, w, y := zhang(t).Number(), li(t).Number(), wang(t).Number(), zhao(t).Number()
	bad := z[:17] + map[bool]string{true: "1", false: "0"}[z[17] == '0'] // a wrong check character
	file := "身份证号码,姓名,乡镇,保障类别,纳入日期\r\n" +                                // 1
		z + ",张三,白鹿镇,低保,2023-03-01\r\n" + // 2 good
		bad + ",李四,温泉镇,低保,2023-03-01\r\n" + // 3 check character
		"3.60427195111083E+17,王五,,低保,\r\n" + // 4 Excel's scientific notation
		w + ",王五,华林镇,五保户（集中供养）,\r\n" + // 5 unknown category
		y + ",,白鹿镇,低保,\r\n" + // 6 no name
		l + "," + strings.Repeat("李", 51) + ",温泉镇,特困,\r\n" + // 7 name too long
		l + ",李四,温泉镇,特困,2024-07-01\r\n" + // 8 after the roster's date
		l + ",李四,温泉镇,特困,2023-02-30\r\n" + // 9 no such day
		z + ",张三,白鹿镇,低保,2023-04-01\r\n" + // 10 repeats line 2 with another date
		z + ",张三,白鹿镇,特困,\r\n" + // 11 低保 on line 2
		y + ",赵六,白鹿镇,低保,2023-01-01,备注\r\n" + // 12 an unquoted comma
		"合计,,,,\r\n" + // 13 a total that is not the last line
		"12345,钱七,,,\r\n" + // 14 short ID, no category
		y + ",赵六,白鹿镇,低保,1999-01-01\r\n" // 15 before the birth date
	_, err := Read(strings.NewReader(file), "民政低保.csv", domain.RosterCivilAffairs, asOf)
	got, reasons := problemsOf(t, err)
	want := []problem{
		{3, "id_number"}, {4, "id_number"}, {5, "category"}, {6, "name"}, {7, "name"}, {8, "since"}, {9, "since"},
		{10, "since"}, {11, "category"}, {12, "line"}, {13, "line"}, {14, "id_number"}, {14, "category"}, {15, "since"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("problems\n got %v\nwant %v\n%v", got, want, err)
	}
	for k, s := range map[problem][]string{
		{3, "id_number"}:  {"check character"},
		{4, "id_number"}:  {"stored as a number", "the last digits are lost", "Format the ID number column as text"},
		{5, "category"}:   {`"五保户（集中供养）" is not a category of a civil affairs roster`, "低保 (or 城市低保, 农村低保, 城乡低保, 最低生活保障)", "特困 (or 特困供养", "or 城镇困难群众"},
		{7, "name"}:       {"51 characters", "at most 50"},
		{8, "since"}:      {"2024-07-01 is after the roster's date 2024-06-30"},
		{9, "since"}:      {"not a day of the calendar"},
		{10, "since"}:     {"line 2", "since 2023-03-01, here since 2023-04-01"},
		{11, "category"}:  {"line 2 as 低保, here as 特困"},
		{12, "line"}:      {"has 6 fields but the header has 5"},
		{13, "line"}:      {"only be the last line"},
		{14, "id_number"}: {"has 5 characters"},
		{14, "category"}:  {"is empty"},
		{15, "since"}:     {"1999-01-01 is before the birth date"},
	} {
		for _, sub := range s {
			if !strings.Contains(reasons[k], sub) {
				t.Errorf("problem %v %q lacks %q", k, reasons[k], sub)
			}
		}
	}
	for _, s := range []string{`civil affairs roster "民政低保.csv": 14 problems`, "line 3: id_number:", "and 4 more"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("message lacks %q: %s", s, err)
		}
	}
}

func TestReadRefusesConflictingRuralAndDeathLines(t *testing.T) {
	rural := "姓名,身份证号,户类型,监测类型\n" +
		"张三," + zhang(t).Number() + ",脱贫户,\n" +
		"张三," + zhang(t).Number() + ",监测户,突发严重困难户\n" + // two rural categories
		"李四," + li(t).Number() + ",监测户,\n" + // no kind
		"王五," + wang(t).Number() + ",监测户,低收入\n" + // unknown kind
		"赵六," + zhao(t).Number() + ",一般农户,\n" // not a supported category
	_, err := Read(strings.NewReader(rural), "rural.csv", domain.RosterRuralAffairs, asOf)
	got, reasons := problemsOf(t, err)
	want := []problem{{3, "category"}, {4, "monitoring_kind"}, {5, "monitoring_kind"}, {6, "category"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("problems %v, want %v\n%v", got, want, err)
	}
	for k, sub := range map[problem]string{
		{3, "category"}:        "line 2 as 脱贫户, here as 监测户(突发严重困难户)",
		{4, "monitoring_kind"}: "is empty; a 监测户 line needs the monitoring kind: 边缘易致贫户 (or 边缘易致贫), 脱贫不稳定户 (or 脱贫不稳定) or 突发严重困难户 (or 突发严重困难)",
		{5, "monitoring_kind"}: `"低收入" is not a monitoring kind`,
		{6, "category"}:        `"一般农户" is not a category of a rural affairs roster; write 脱贫户 (or 脱贫人口, 脱贫户(已脱贫)); or 监测户 (or 监测对象, 防返贫监测对象) with the monitoring kind in its own column; or the monitoring kind itself: 边缘易致贫户`,
	} {
		if !strings.Contains(reasons[k], sub) {
			t.Errorf("problem %v %q lacks %q", k, reasons[k], sub)
		}
	}

	deaths := "姓名,身份证号,死亡日期\n" +
		"张三," + zhang(t).Number() + ",2024-05-03\n" +
		"李四," + li(t).Number() + ",\n" +
		"张三," + zhang(t).Number() + ",2024-05-04\n"
	_, err = Read(strings.NewReader(deaths), "deaths.csv", domain.RosterDeaths, asOf)
	got, reasons = problemsOf(t, err)
	if want := []problem{{3, "date_of_death"}, {4, "date_of_death"}}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("problems %v, want %v\n%v", got, want, err)
	}
	if r := reasons[problem{4, "date_of_death"}]; r != "the same person is on line 2 with date of death 2024-05-03, here 2024-05-04; keep the right line only" {
		t.Errorf("reason %q", r)
	}
}

func TestReadMonitoredWithoutKindColumn(t *testing.T) {
	file := "姓名,身份证号,户类型\n李四," + li(t).Number() + ",监测户\n"
	_, err := Read(strings.NewReader(file), "rural.csv", domain.RosterRuralAffairs, asOf)
	got, reasons := problemsOf(t, err)
	if want := []problem{{2, "monitoring_kind"}}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("problems %v, want %v", got, want)
	}
	if r := reasons[got[0]]; !strings.Contains(r, "no column for it: add one named monitoring kind, 监测对象类别, 监测类别, 监测类型") {
		t.Errorf("reason %q", r)
	}
}

func TestReadRefusesBadHeadersAndFiles(t *testing.T) {
	tests := []struct {
		name   string
		source domain.RosterSource
		file   string
		want   []problem
		reason string // of the first problem
	}{{
		name: "civil affairs without a category", source: domain.RosterCivilAffairs,
		file: "身份证号,姓名,户主姓名\n", want: []problem{{1, "category"}},
		reason: "no column for the category; name one category, 人员类别, 保障类别, 对象类型, 户类型, 救助类别, 类别",
	}, {
		name: "deaths without a date of death", source: domain.RosterDeaths,
		file: "\n\n身份证号,姓名,纳入日期\n", want: []problem{{3, "date_of_death"}},
		reason: "no column for the date of death; name one date of death, 死亡日期, 死亡时间",
	}, {
		name: "户主姓名 is not the name", source: domain.RosterHumanResources,
		file: "证件号码,户主姓名\n", want: []problem{{1, "name"}},
		reason: "no column for the name; name one name, 姓名",
	}, {
		name: "no ID column, two townships", source: domain.RosterRuralAffairs,
		file: "姓名,乡镇,街道,户类型\n", want: []problem{{1, "id_number"}, {1, "township"}},
		reason: "no column for the ID number; name one id number, 公民身份号码, 证件号码, 身份证, 身份证号, 身份证号码",
	}, {
		name: "empty", source: domain.RosterDeaths, file: " \r\n", want: []problem{{1, "header"}},
		reason: "the file is empty; expected a header line",
	}, {
		name: "UTF-16", source: domain.RosterDeaths, file: "\xff\xfe\x59\x59", want: []problem{{0, "file"}},
		reason: "is UTF-16 text; save it as CSV in UTF-8 or GB18030",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Read(strings.NewReader(tt.file), "x.csv", tt.source, asOf)
			got, _ := problemsOf(t, err)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("problems %v, want %v\n%v", got, tt.want, err)
			}
			var fe *FileError
			errors.As(err, &fe)
			if fe.Problems[0].Reason != tt.reason {
				t.Errorf("reason\n got %q\nwant %q", fe.Problems[0].Reason, tt.reason)
			}
			if r.Lines != nil || r.Source != "" {
				t.Errorf("returned %+v alongside the error", r)
			}
		})
	}
}

func TestReadXLSXProblemsUseRowNumbers(t *testing.T) {
	file := xlsxFile(t, [][]any{
		{"姓名", "身份证号", "死亡日期"},
		{"张三", zhang(t).Number(), 45411}, // 2024-04-29
		{},
		{"李四", 360427196503120022.0, 45300}, // an ID typed into a number cell
		{"王五", wang(t).Number(), 60},        // Excel's 1900-02-29
		{"赵六", zhao(t).Number(), 45474},     // 2024-07-01, after the roster's date
	})
	_, err := Read(bytes.NewReader(file), "deaths.xlsx", domain.RosterDeaths, asOf)
	got, reasons := problemsOf(t, err)
	if want := []problem{{4, "id_number"}, {5, "date_of_death"}, {6, "date_of_death"}}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("problems %v, want %v\n%v", got, want, err)
	}
	for k, sub := range map[problem]string{
		{4, "id_number"}:     "Format the ID number column as text",
		{5, "date_of_death"}: "Excel's 1900-02-29, a day that never was",
		{6, "date_of_death"}: "2024-07-01 is after the roster's date 2024-06-30",
	} {
		if !strings.Contains(reasons[k], sub) {
			t.Errorf("problem %v %q lacks %q", k, reasons[k], sub)
		}
	}
}

func TestParseDate(t *testing.T) {
	tests := []struct {
		in      string
		serials bool
		want    string // "" for a refusal
	}{
		{"2024-01-05", false, "2024-01-05"},
		{"2024/1/5", false, "2024-01-05"},
		{"2024.1.5", false, "2024-01-05"},
		{"2024年1月5日", false, "2024-01-05"},
		{"2024年01月05", false, "2024-01-05"},
		{"20240105", false, "2024-01-05"},
		{"20240105", true, "2024-01-05"},
		{"２０２４－０１－０５", false, "2024-01-05"},
		{"2024-01-05 13:45:00", false, "2024-01-05"},
		{"2024/1/5 8:05", false, "2024-01-05"},
		{"2024-02-29", false, "2024-02-29"},
		{"45296", true, "2024-01-05"},
		{"45296.75", true, "2024-01-05"},
		{"1", true, "1900-01-01"},
		{"59", true, "1900-02-28"},
		{"61", true, "1900-03-01"},
		{"2958465", true, "9999-12-31"},
		{"60", true, ""},
		{"0", true, ""},
		{"45296", false, ""},
		{"2023-02-29", false, ""},
		{"2024-13-01", false, ""},
		{"2024-1/5", false, ""},
		{"1899-12-31", false, ""},
		{"05/01/2024", false, ""},
		{"2024年1月", false, ""},
		{"", false, ""},
	}
	for _, tt := range tests {
		d, why := parseDate(tt.in, tt.serials)
		if d.String() != tt.want || (why == "") != (tt.want != "") {
			t.Errorf("parseDate(%q, %v) = %s, %q; want %q", tt.in, tt.serials, d, why, tt.want)
		}
	}
}

func TestShowHidesLongNumbers(t *testing.T) {
	for in, want := range map[string]string{
		"五保户":                   `"五保户"`,
		"3604271951110830":      "a value with a 16-digit number in it",
		"ID 36042719511108301X": "a value with a 17-digit number in it",
		"电话１３８０７９２０００１":         "a value with a 11-digit number in it",
		"一二三四五六七八九十一二三四五六七八九十一二三": `"一二三四五六七八九十一二三四五六七八九十"…`,
	} {
		if got := show(in); got != want {
			t.Errorf("show(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestReadChecksItsArguments(t *testing.T) {
	file := "身份证号,姓名\n"
	if _, err := Read(strings.NewReader(file), "x", "police", asOf); !errors.Is(err, domain.ErrInvalid) || !strings.Contains(err.Error(), "source") {
		t.Errorf("unknown source: %v", err)
	}
	if _, err := Read(strings.NewReader(file), "x", domain.RosterDeaths, domain.Date{}); !errors.Is(err, domain.ErrInvalid) || !strings.Contains(err.Error(), "as_of") {
		t.Errorf("no date: %v", err)
	}
	boom := errors.New("connection reset")
	_, err := Read(io.MultiReader(strings.NewReader("身份证号,"), errReader{boom}), "x", domain.RosterDeaths, asOf)
	var fe *FileError
	if !errors.Is(err, boom) || errors.As(err, &fe) {
		t.Errorf("read failure: %v", err)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }
