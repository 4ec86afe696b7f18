// Package roster reads the rosters other departments send the federation
// — the lists of people they support — into a domain.Roster.
//
// It is an adapter: it reads an io.Reader, and never opens files, talks to
// a database or logs. It shares the reading of spreadsheets with the bank
// return-file parser (adapters/bankfile).
//
// # Files
//
// The format is told by content, not by name: a zip archive is XLSX, and
// its first sheet is read; anything else is CSV (comma separated, RFC 4180
// quoting). CSV that is valid UTF-8 is read as UTF-8, with or without a
// byte-order mark; otherwise it is decoded as GB18030 (which covers GBK and
// GB2312, what Excel on a Chinese Windows saves). UTF-16 text and legacy
// .xls workbooks are refused with a clear message. Files are limited to
// MaxFileSize.
//
// The first non-blank line is the header. Columns are found by name, in
// any order; names compare ignoring case, spaces, "_", "-", a trailing
// colon and required-field stars, and a name of the form 中文(English)
// matches on either part. Other columns (序号, 性别, 户主姓名, 联系电话,
// ...) are ignored. The recognised names:
//
//	ID number:        身份证号 身份证号码 公民身份号码 证件号码 身份证 id_number
//	name:             姓名 name                      (户主姓名 is not the person's name)
//	township:         乡镇 乡镇(街道) 所属乡镇 乡镇街道 街道 township
//	category:         类别 救助类别 保障类别 人员类别 户类型 对象类型 category
//	monitoring kind:  监测类型 监测对象类别 监测类别 monitoring_kind
//	since:            纳入时间 纳入日期 起始日期 享受起始日期 认定时间 识别时间 since
//	date of death:    死亡日期 死亡时间 date_of_death
//
// Every roster needs the ID number and name columns; civil affairs and
// rural affairs rosters need the category column too, and a death roster
// the date of death. Two columns naming the same field are refused as
// ambiguous.
//
// # Lines
//
// Blank lines are skipped. A line whose first non-empty field is 合计, 总计
// or total is a control-total line: it is skipped when it is the last
// non-blank line and is an error anywhere else. A line may have more fields
// than the header only if the extra ones are empty.
//
// The ID number is a resident identity number as domain.ParseResidentID
// reads it (full-width digits, spaces and a lower-case x are fine; a
// 15-digit first-generation number is converted); the birth date it holds
// may not be after the roster's date. A number Excel turned into
// scientific notation ("3.60427195111083E+17") has lost its last digits and
// is refused with a hint to format the column as text. The name is
// required, at most 50 characters. The township is kept as written and may
// be empty.
//
// The category, compared ignoring spaces and with full-width parentheses
// read as ASCII ones (the category codes of domain.RosterCategory are
// accepted too):
//
//	civil affairs:   低保 城市低保 农村低保 城乡低保 最低生活保障      → dibao
//	                 特困 特困供养 特困人员 特困供养人员               → tekun
//	                 城镇困难群众 城镇困难职工 困难群众                → urban_needy
//	rural affairs:   脱贫户 脱贫人口 脱贫户(已脱贫)                    → lifted_from_poverty
//	                 监测户 监测对象 防返贫监测对象, with the monitoring kind:
//	                   边缘易致贫户 边缘易致贫                         → monitored_marginal
//	                   脱贫不稳定户 脱贫不稳定                         → monitored_unstable
//	                   突发严重困难户 突发严重困难                     → monitored_hardship
//	                 or the monitoring kind itself in the category column
//	human resources: every line is work_injury_nursing; a category column is ignored
//	deaths:          every line is death
//
// Dates (since, date of death) may be written 2024-01-05, 2024/1/5,
// 2024.1.5, 2024年1月5日 or 20240105, optionally followed by a time of day,
// which is ignored; in an XLSX file a date cell is read from its serial
// number (Excel's 1900 date system, where day 60 is the 1900-02-29 that
// never was, and is refused). A date after the roster's date is refused.
// Since is optional; a death roster's date of death is required.
//
// # Repeats
//
// A line repeating an earlier one for the same person, category and dates
// is dropped and counted in Roster.Duplicates. A line for a person already
// on an earlier line with the same category but other dates, or with a
// category the earlier one excludes (低保 and 特困; two rural affairs
// categories), is an error naming both lines.
//
// # Errors
//
// All or nothing: if anything is wrong, Read returns a *FileError listing
// every problem on every line — line numbers are physical lines of the CSV
// file (where a record starts), or sheet row numbers of the XLSX file, so
// the header is line 1 — and no lines at all. Problems with the file as a
// whole (too large, not a readable workbook, UTF-16) have LineNo 0.
// Messages never hold an ID number, a name, or any cell with a long run of
// digits. A header followed by no lines is a valid, empty roster.
package roster
