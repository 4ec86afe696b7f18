// Package bankfile writes the payment files the federation sends its bank
// and reads the return files the bank sends back, then classifies a return
// file against the payments of a batch.
//
// It is an adapter: it reads an io.Reader and writes an io.Writer, and never
// opens files, talks to a database or logs. Amounts are domain.Money from end
// to end and are written and read as decimal text, never as floating point.
//
// # Payment file (WritePayments)
//
// CSV, comma separated, RFC 4180 quoting (encoding/csv), CRLF line ends, no
// byte-order mark, in UTF-8 or GB18030. Line 1 is one bilingual header:
//
//	付款参考号(Reference),户名(Account name),账号(Account number),金额(Amount),备注(Note)
//
// Then one line per payment, in the caller's order, e.g.
//
//	lsk3fq7aa1b2c3d4e5f60718293a2501,张三,6222020200112233445,110.00,2025年1月 困难残疾人生活补贴
//
// The amount always has exactly two decimals ("110.00", "0.50"), without
// separators or a currency sign. The last line is the control total, with as
// many fields as the header so strict readers accept it:
//
//	合计(Total),<count>,,<total>,batch=<batch ID>;program=<program>;period=<period>
//
// field 1 the literal 合计(Total); field 2 the number of payment lines in
// decimal digits; field 3 empty; field 4 the sum of the amounts, two decimals,
// under the amount column; field 5 the batch it belongs to. For example
//
//	合计(Total),2,,220.00,batch=B-2025-01-01;program=living_subsidy;period=2025-01
//
// GB18030 is a superset of GBK: every character in GBK is encoded exactly as
// GBK encodes it, so a GBK-only bank system reads the file unless a name uses
// a rare character outside GBK (some 生僻字), which GB18030 writes as four
// bytes.
//
// XLSX has the same rows on one sheet named 付款明细: the header row, the
// payment rows, and the control-total row. Every cell is a string cell
// (inline string) with the text number format "@", so amounts are the text
// "110.00", never numbers that a spreadsheet could round or reformat. XLSX is
// always UTF-8 inside; asking for XLSX in GB18030 is an error.
//
// The account number written is the full number: the bank needs it to pay.
// Callers decrypt it just for this call and drop it afterwards; it never
// appears in an error, and PaymentFileLine's String, GoString and LogValue
// show the masked number only and JSON omits it, so printing, logging or
// marshalling a line cannot leak it.
//
// WritePayments checks everything before it writes a byte, so an error leaves
// w untouched: the header's count must equal the number of lines and its
// total must equal their sum exactly; every reference is unique and is 1 to
// MaxReferenceLen (32) ASCII letters, digits and -, to fit a bank's remark
// field; the masked account is set and is not the full number; amounts are
// above zero; the account number is 6 to 40 ASCII digits; text fields are
// valid UTF-8 of at most 256 characters, with no control characters, no
// leading or trailing spaces and no leading = + - @ (which spreadsheets would
// run as a formula). Batch ID, program and period are 1 to 64 ASCII letters,
// digits and . _ : -.
//
// # Return file (ReadReturn)
//
// The format is told by content, not by name: a zip archive ("PK\x03\x04") is
// XLSX, and its first sheet is read; anything else is CSV (comma separated,
// RFC 4180 quoting). CSV that is valid UTF-8 is read as UTF-8, with or without
// a byte-order mark; otherwise it is decoded as GB18030 (which covers GBK and
// GB2312). UTF-16 and legacy .xls files are refused with a clear message.
// Files are limited to MaxReturnFileSize.
//
// The first non-blank line is the header. Columns are found by name, in any
// order, in Chinese or English; names are compared ignoring case, spaces,
// "_", "-", a trailing colon and required-field stars, and a name of the form
// 中文(English) matches on either part, so the header of our own payment file
// is understood. The recognised names, best first:
//
//	reference (required):      付款参考号 参考号 payment reference reference ref; then 流水号
//	amount (required):         金额 交易金额 付款金额 amount
//	status (required):         状态 处理结果 交易状态 status result
//	reason (optional):         失败原因 reason; then 原因; then message; then 备注
//	bank reference (optional): 银行流水号 银行参考号 bank reference bank ref
//	account (optional):        账号 account 卡号 account number
//
// When two columns name the same field, the better name wins (a bank file
// with both 备注 and 失败原因 takes the reason from 失败原因); two columns
// with equally good names are ambiguous and the file is refused. The account
// column is recognised but deliberately not read: matching is by reference,
// and a return line then never carries an account number into events or logs.
// Other columns are ignored.
//
// Amounts are text in plain decimal notation as domain.ParseMoney accepts
// them: at most two decimals, no sign, no exponent and no thousands
// separators — "1,234.00" is refused, not guessed at. An XLSX amount stored
// as a number cell is read from the decimal text in the file (e.g. "110.5"),
// never through float64, and must pass the same rules, so a cell holding
// 110.10000000000001 is refused.
//
// Statuses: 成功 已入账 入账成功 交易成功 处理成功 success succeeded successful
// ok settled paid mean settled; 失败 退回 已退回 退票 交易失败 处理失败 failed fail
// rejected returned mean failed; anything else (处理中, an empty cell) is an
// error. Statuses compare ignoring case and surrounding space.
//
// Blank lines are skipped. A line whose first non-empty field is 合计, 总计 or
// total (also 合计(Total), or followed by a colon) is a control-total line:
// it is skipped when it is the last non-blank line and is an error anywhere
// else. Its figures are not checked, since banks total different things.
//
// All or nothing: if any line is malformed, ReadReturn returns a *FileError
// listing every problem on every line — line numbers are physical lines of
// the CSV file (where a record starts), or sheet row numbers of the XLSX
// file, so the header is line 1 — and no lines at all. A header without the
// required columns is reported on the header's line. Problems with the file
// as a whole (too large, not a readable workbook, UTF-16) have LineNo 0.
// A header followed by no lines is a valid, empty return file.
//
// # Classification (Classify)
//
// Classify is pure. It reads a file as banks send them: again, or
// cumulative (a day's file resent with the earlier lines), so each expected
// payment carries what an earlier file said of it. Lines of one reference
// that disagree, in status or amount, are all Conflicting: none is applied
// and a person settles it with the bank. Otherwise each return line is, in
// file order: a Duplicate if its reference already appeared on an earlier
// line (only the first occurrence counts, the repeat is never applied);
// else Unknown if the reference is not in the batch; else an AmountMismatch
// if the amount differs from the issued amount, whatever the status (not
// applied, for review); else, by what was known and what the line says:
//
//	known       line says   list
//	(nothing)   settled     Settled
//	(nothing)   failed      Failed
//	failed      settled     LateSettled (paid after all; applied)
//	failed      failed      AlreadyFailed (nothing changes)
//	settled     settled     AlreadySettled (nothing changes)
//	settled     failed      Contradicting (not applied, for review)
//
// Expected payments still waiting for the bank whose reference is on no
// line are Missing. Every tally's total is the sum of its lines, exact to
// the fen. Rows and Tallies list the result for reports, in one order.
package bankfile
