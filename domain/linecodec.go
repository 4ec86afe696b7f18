package domain

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
)

// The events of a payroll's long steps — LinesReserved, PaymentsIssued,
// PaymentsSettled, PaymentsSettledLate, PaymentsFailed — carry up to a few
// thousand lines each, and a province's month is a million lines written
// and read back several times. encoding/json spends microseconds on each
// line through reflection; this file writes and reads exactly the same
// JSON for these events directly:
//
//   - appendJSON writes the bytes json.Marshal writes, byte for byte (the
//     hash chain covers them, and the encoding tests compare the two on
//     every kind of value, escapes included);
//   - decodeJSON reads the form json.Marshal writes, with any whitespace
//     and key order, and declines — returning false, so that the caller
//     decodes with encoding/json instead — anything else: an escape in a
//     string, an unknown key, a null string, a number, invalid UTF-8. So a stored
//     event always decodes as encoding/json decodes it.
//
// The events of one payment (PaymentIssued, PaymentSettled, PaymentFailed,
// PaymentReversed) are read the same way, not written: a rebuild of the
// payment read models reads them by the million.

// jsonAppender writes itself as json.Marshal does: the events below and
// their lines.
type jsonAppender interface {
	appendJSON(b []byte) []byte
}

// fastEvent is an event with a direct JSON codec.
type fastEvent interface {
	Event
	jsonAppender
}

// fastDecoder is a pointer to an event that decodes its JSON directly.
type fastDecoder interface {
	decodeJSON(data []byte) bool
}

// encodeEvent is json.Marshal(ev), directly where ev has a codec.
func encodeEvent(ev Event) ([]byte, error) {
	if p, ok := ev.(personalEvent); ok {
		if err := p.checkSealed(); err != nil {
			return nil, err
		}
	}
	if f, ok := ev.(fastEvent); ok {
		return f.appendJSON(make([]byte, 0, sizeHint(ev))), nil
	}
	return json.Marshal(ev)
}

// sizeHint is about the length of a line event's JSON — its lines times
// its first line's length, with room for lines a little longer — so that
// writing a chunk of a few thousand lines fills one buffer instead of
// growing one a few dozen times. Each line event has one (linesHint of
// its lines); a pointer to it has it too.
func sizeHint(ev Event) int {
	if h, ok := ev.(interface{ sizeHint() int }); ok {
		return h.sizeHint()
	}
	return 1024
}

func linesHint[L jsonAppender](ls []L) int {
	if len(ls) == 0 {
		return 256
	}
	return 256 + len(ls)*(len(ls[0].appendJSON(nil))+16)
}

// fieldKind is how a field is written in JSON.
type fieldKind int

const (
	kString fieldKind = iota // a JSON string
	kMoney                   // Money: "110.00"
	kPeriod                  // Period: "2025-03"
	kDate                    // Date: "2025-03-01"
	kLines                   // the event's array of lines
)

// field is one JSON field of a struct T, in the order json.Marshal writes
// them (embedded structs flattened in place).
type field[T any] struct {
	name      string
	slot      int // where the decoder remembers the field's last value (memo)
	kind      fieldKind
	omitEmpty bool // a string field tagged omitempty
	str       func(*T) *string
	money     func(*T) *Money
	period    func(*T) *Period
	date      func(*T) *Date
	// lines appends and decodes the array field of an event.
	appendLines func(b []byte, v *T) []byte
	decodeLines func(d *decoder, v *T) bool
}

func strField[T any](name string, f func(*T) *string) field[T] {
	return field[T]{name: name, slot: memo(name), kind: kString, str: f}
}
func omitEmptyField[T any](name string, f func(*T) *string) field[T] {
	return field[T]{name: name, slot: memo(name), kind: kString, omitEmpty: true, str: f}
}
func moneyField[T any](name string, f func(*T) *Money) field[T] {
	return field[T]{name: name, slot: memo(name), kind: kMoney, money: f}
}
func periodField[T any](name string, f func(*T) *Period) field[T] {
	return field[T]{name: name, slot: memo(name), kind: kPeriod, period: f}
}
func dateField[T any](name string, f func(*T) *Date) field[T] {
	return field[T]{name: name, slot: memo(name), kind: kDate, date: f}
}

// memoSlots numbers the names of the fields the decoder remembers the
// last value of: fields of the same name share one, whatever their
// struct, as they share a name in the decoder's memory.
var memoSlots = map[string]int{}

func memo(name string) int {
	if k, ok := memoSlots[name]; ok {
		return k
	}
	memoSlots[name] = len(memoSlots)
	return len(memoSlots) - 1
}

// linesField is the array field of an event whose elements are L.
func linesField[T, L any](name string, f func(*T) *[]L, elems []field[L]) field[T] {
	return field[T]{name: name, kind: kLines,
		appendLines: func(b []byte, v *T) []byte {
			ls := *f(v)
			if ls == nil {
				return append(b, "null"...)
			}
			b = append(b, '[')
			for i := range ls {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendObject(b, &ls[i], elems)
			}
			return append(b, ']')
		},
		decodeLines: func(d *decoder, v *T) bool {
			if d.peek() == 'n' && bytes.HasPrefix(d.b[d.i:], []byte("null")) {
				d.i += 4
				*f(v) = nil
				return true
			}
			if !d.expect('[') {
				return false
			}
			ls := make([]L, 0, d.estimate())
			if d.peek() == ']' {
				d.i++
				*f(v) = ls
				return true
			}
			for {
				ls = append(ls, *new(L))
				if !decodeObject(d, &ls[len(ls)-1], elems) {
					return false
				}
				switch d.next() {
				case ',':
					continue
				case ']':
					*f(v) = ls
					return true
				default:
					return false
				}
			}
		}}
}

// appendObject writes v as json.Marshal does.
func appendObject[T any](b []byte, v *T, fields []field[T]) []byte {
	b = append(b, '{')
	first := true
	for k := range fields {
		f := &fields[k]
		if f.omitEmpty && *f.str(v) == "" {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, '"')
		b = append(b, f.name...)
		b = append(b, '"', ':')
		switch f.kind {
		case kString:
			b = appendString(b, *f.str(v))
		case kMoney:
			b = append(f.money(v).appendText(append(b, '"')), '"')
		case kPeriod:
			b = appendPeriod(b, *f.period(v))
		case kDate:
			b = appendDate(b, *f.date(v))
		case kLines:
			b = f.appendLines(b, v)
		}
	}
	return append(b, '}')
}

// appendString writes s as json.Marshal does: as is when nothing in it is
// escaped (the ledger's references, IDs, amounts and Chinese names), and
// through encoding/json otherwise.
func appendString(b []byte, s string) []byte {
	ascii := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return appendEscaped(b, s)
		}
		if c >= utf8.RuneSelf {
			ascii = false
		}
	}
	if !ascii && (!utf8.ValidString(s) || containsLineSeparator(s)) {
		return appendEscaped(b, s)
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func appendEscaped(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always encodes
	return append(b, q...)
}

// containsLineSeparator reports whether s holds U+2028 or U+2029, which
// json.Marshal escapes.
func containsLineSeparator(s string) bool {
	for i := 0; i+2 < len(s); i++ {
		if s[i] == 0xE2 && s[i+1] == 0x80 && (s[i+2] == 0xA8 || s[i+2] == 0xA9) {
			return true
		}
	}
	return false
}

func appendPeriod(b []byte, p Period) []byte {
	if p.year < 1000 || p.year > 9999 {
		return appendString(b, p.String())
	}
	b = strconv.AppendInt(append(b, '"'), int64(p.year), 10)
	return append(b, '-', byte('0'+p.month/10), byte('0'+p.month%10), '"')
}

func appendDate(b []byte, d Date) []byte {
	if d.IsZero() || d.Year() < 1000 || d.Year() > 9999 {
		return appendString(b, d.String())
	}
	m, day := d.Month(), d.Day()
	b = strconv.AppendInt(append(b, '"'), int64(d.Year()), 10)
	return append(b, '-', byte('0'+m/10), byte('0'+m%10), '-', byte('0'+day/10), byte('0'+day%10), '"')
}

// decoder reads the JSON json.Marshal writes, declining anything else.
type decoder struct {
	b []byte
	i int
	// last remembers each field's last value by its text (by the field's
	// slot), so that the values lines share (batch, township, kind,
	// period, dates) are parsed and allocated once per event, not once
	// per line.
	last []lastValue
}

type lastValue struct {
	kind   fieldKind
	raw    string
	str    string
	money  Money
	period Period
	date   Date
}

func newDecoder(b []byte) *decoder { return &decoder{b: b, last: make([]lastValue, len(memoSlots))} }

func (d *decoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// peek returns the next byte after whitespace (0 at the end).
func (d *decoder) peek() byte {
	d.ws()
	if d.i >= len(d.b) {
		return 0
	}
	return d.b[d.i]
}

// next consumes and returns the next byte after whitespace.
func (d *decoder) next() byte {
	c := d.peek()
	if c != 0 {
		d.i++
	}
	return c
}

func (d *decoder) expect(c byte) bool { return d.next() == c }

// estimate guesses how many lines an array holds from the bytes left, so
// that decoding it grows its slice once or twice, not a dozen times.
func (d *decoder) estimate() int { return min((len(d.b)-d.i)/200+1, 4096) }

// str reads a JSON string without escapes and returns its bytes; false for
// anything else (an escape, a control character, invalid UTF-8).
func (d *decoder) str() ([]byte, bool) {
	if !d.expect('"') {
		return nil, false
	}
	start := d.i
	ascii := true
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			s := d.b[start:d.i]
			d.i++
			if !ascii && !utf8.Valid(s) {
				return nil, false
			}
			return s, true
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
		d.i++
	}
	return nil, false
}

// decodeObject reads one JSON object into v.
func decodeObject[T any](d *decoder, v *T, fields []field[T]) bool {
	if !d.expect('{') {
		return false
	}
	if d.peek() == '}' {
		d.i++
		return true
	}
	for {
		key, ok := d.str()
		if !ok || !d.expect(':') {
			return false
		}
		f := lookup(fields, key)
		if f == nil || !decodeField(d, v, f) {
			return false
		}
		switch d.next() {
		case ',':
			continue
		case '}':
			return true
		default:
			return false
		}
	}
}

func lookup[T any](fields []field[T], key []byte) *field[T] {
	for k := range fields {
		if fields[k].name == string(key) {
			return &fields[k]
		}
	}
	return nil
}

func decodeField[T any](d *decoder, v *T, f *field[T]) bool {
	if f.kind == kLines {
		return f.decodeLines(d, v)
	}
	raw, ok := d.str()
	if !ok {
		return false
	}
	var lv lastValue
	if d.last != nil {
		lv = d.last[f.slot]
	}
	if lv.kind == f.kind && lv.raw == string(raw) && lv.raw != "" {
		switch f.kind { // the same text as this field's last value: reuse it
		case kString:
			*f.str(v) = lv.str
		case kMoney:
			*f.money(v) = lv.money
		case kPeriod:
			*f.period(v) = lv.period
		case kDate:
			*f.date(v) = lv.date
		}
		return true
	}
	lv = lastValue{kind: f.kind}
	switch f.kind {
	case kString:
		lv.str = string(raw)
		lv.raw = lv.str
		*f.str(v) = lv.str
	case kMoney:
		fen, ok := fastFen(raw)
		if !ok {
			m, err := ParseMoney("amount", string(raw))
			if err != nil {
				return false
			}
			fen = m.fen
		}
		lv.money = Money{fen}
		*f.money(v) = lv.money
	case kPeriod:
		p, ok := fastPeriod(raw)
		if !ok {
			if err := p.UnmarshalText(raw); err != nil {
				return false
			}
		}
		lv.period = p
		*f.period(v) = p
	case kDate:
		dt, ok := fastDate(raw)
		if !ok {
			if err := dt.UnmarshalText(raw); err != nil {
				return false
			}
		}
		lv.date = dt
		*f.date(v) = dt
	}
	if d.last != nil { // the text only where it is remembered
		if lv.raw == "" {
			lv.raw = string(raw)
		}
		d.last[f.slot] = lv
	}
	return true
}

// fastFen reads an amount as Money's JSON writes it ("110.00": digits
// without a leading zero, a point, two digits) without ParseMoney's
// checks, which only other forms need; false for any other form.
func fastFen(b []byte) (int64, bool) {
	n := len(b)
	if n < 4 || n > maxMoneyIntDigits+3 || b[n-3] != '.' || (b[0] == '0' && n > 4) {
		return 0, false
	}
	var fen int64
	for i, c := range b {
		if i == n-3 {
			continue
		}
		if c < '0' || c > '9' {
			return 0, false
		}
		fen = fen*10 + int64(c-'0')
	}
	return fen, true
}

// digits reads b as a decimal number of ASCII digits; false otherwise.
func digits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, len(b) > 0
}

// fastPeriod reads "YYYY-MM" as Period's JSON writes it; false for any
// other form or a month NewPeriod refuses.
func fastPeriod(b []byte) (Period, bool) {
	if len(b) != 7 || b[4] != '-' {
		return Period{}, false
	}
	y, ok1 := digits(b[:4])
	m, ok2 := digits(b[5:])
	if !ok1 || !ok2 {
		return Period{}, false
	}
	p, err := NewPeriod(y, time.Month(m))
	return p, err == nil
}

// fastDate reads "YYYY-MM-DD" as Date's JSON writes it; false for any
// other form or a day the month does not have.
func fastDate(b []byte) (Date, bool) {
	if len(b) != 10 || b[4] != '-' || b[7] != '-' {
		return Date{}, false
	}
	y, ok1 := digits(b[:4])
	m, ok2 := digits(b[5:7])
	day, ok3 := digits(b[8:])
	if !ok1 || !ok2 || !ok3 || m < 1 || m > 12 || day < 1 {
		return Date{}, false
	}
	dt := NewDate(y, time.Month(m), day)
	if dt.Day() != day { // 2024-02-30 would roll over
		return Date{}, false
	}
	return dt, true
}

// decodeTop reads a whole event: one object and nothing after it.
func decodeTop[T any](data []byte, v *T, fields []field[T]) bool {
	return decodeWhole(newDecoder(data), v, fields)
}

// decodeSingle is decodeTop for the event of one payment, which has no
// lines to share values: without the memory of last values.
func decodeSingle[T any](data []byte, v *T, fields []field[T]) bool {
	return decodeWhole(&decoder{b: data}, v, fields)
}

func decodeWhole[T any](d *decoder, v *T, fields []field[T]) bool {
	if !decodeObject(d, v, fields) {
		return false
	}
	d.ws()
	return d.i == len(d.b)
}

// The fields of the lines, in the order of their structs.

func paymentLineFields[T any](pl func(*T) *PaymentLine) []field[T] {
	return []field[T]{
		strField("reference", func(v *T) *string { return &pl(v).Reference }),
		strField("batch_id", func(v *T) *string { return &pl(v).BatchID }),
		strField("person_id", func(v *T) *string { return (*string)(&pl(v).PersonID) }),
		strField("program", func(v *T) *string { return (*string)(&pl(v).Program) }),
		periodField("period", func(v *T) *Period { return &pl(v).Period }),
		strField("kind", func(v *T) *string { return (*string)(&pl(v).Kind) }),
		moneyField("amount", func(v *T) *Money { return &pl(v).Amount }),
		strField("township", func(v *T) *string { return &pl(v).Township }),
		dateField("paid_on", func(v *T) *Date { return &pl(v).PaidOn }),
	}
}

var (
	payrollLineFields = []field[PayrollLine]{
		strField("reference", func(v *PayrollLine) *string { return &v.Reference }),
		strField("person_id", func(v *PayrollLine) *string { return (*string)(&v.PersonID) }),
		strField("kind", func(v *PayrollLine) *string { return (*string)(&v.Kind) }),
		periodField("period", func(v *PayrollLine) *Period { return &v.Period }),
		moneyField("amount", func(v *PayrollLine) *Money { return &v.Amount }),
		strField("township", func(v *PayrollLine) *string { return &v.Township }),
	}
	paymentIssuedFields  = paymentLineFields(func(v *PaymentIssued) *PaymentLine { return &v.PaymentLine })
	paymentSettledFields = append(paymentLineFields(func(v *PaymentSettled) *PaymentLine { return &v.PaymentLine }),
		strField("bank_reference", func(v *PaymentSettled) *string { return &v.BankReference }),
		dateField("settled_on", func(v *PaymentSettled) *Date { return &v.SettledOn }))
	paymentFailedFields = append(paymentLineFields(func(v *PaymentFailed) *PaymentLine { return &v.PaymentLine }),
		strField("reason", func(v *PaymentFailed) *string { return &v.Reason }),
		dateField("failed_on", func(v *PaymentFailed) *Date { return &v.FailedOn }))
	paymentReversedFields = append(paymentLineFields(func(v *PaymentReversed) *PaymentLine { return &v.PaymentLine }),
		strField("reason", func(v *PaymentReversed) *string { return &v.Reason }),
		dateField("reversed_on", func(v *PaymentReversed) *Date { return &v.ReversedOn }))
)

// The fields of the events.

var (
	linesReservedFields = []field[LinesReserved]{
		strField("batch_id", func(v *LinesReserved) *string { return &v.BatchID }),
		strField("program", func(v *LinesReserved) *string { return (*string)(&v.Program) }),
		periodField("period", func(v *LinesReserved) *Period { return &v.Period }),
		dateField("paid_on", func(v *LinesReserved) *Date { return &v.PaidOn }),
		linesField("lines", func(v *LinesReserved) *[]PayrollLine { return &v.Lines }, payrollLineFields),
	}
	paymentsIssuedFields = []field[PaymentsIssued]{
		strField("batch_id", func(v *PaymentsIssued) *string { return &v.BatchID }),
		linesField("payments", func(v *PaymentsIssued) *[]PaymentIssued { return &v.Payments }, paymentIssuedFields),
	}
	paymentsSettledFields = []field[PaymentsSettled]{
		strField("batch_id", func(v *PaymentsSettled) *string { return &v.BatchID }),
		omitEmptyField("file_sha256", func(v *PaymentsSettled) *string { return &v.FileSHA256 }),
		linesField("payments", func(v *PaymentsSettled) *[]PaymentSettled { return &v.Payments }, paymentSettledFields),
	}
	paymentsSettledLateFields = []field[PaymentsSettledLate]{
		strField("batch_id", func(v *PaymentsSettledLate) *string { return &v.BatchID }),
		strField("file_sha256", func(v *PaymentsSettledLate) *string { return &v.FileSHA256 }),
		linesField("payments", func(v *PaymentsSettledLate) *[]PaymentSettled { return &v.Payments }, paymentSettledFields),
	}
	paymentsFailedFields = []field[PaymentsFailed]{
		strField("batch_id", func(v *PaymentsFailed) *string { return &v.BatchID }),
		omitEmptyField("file_sha256", func(v *PaymentsFailed) *string { return &v.FileSHA256 }),
		linesField("payments", func(v *PaymentsFailed) *[]PaymentFailed { return &v.Payments }, paymentFailedFields),
	}
)

func (e LinesReserved) appendJSON(b []byte) []byte { return appendObject(b, &e, linesReservedFields) }
func (e *LinesReserved) decodeJSON(data []byte) bool {
	return decodeTop(data, e, linesReservedFields)
}
func (e PaymentsIssued) appendJSON(b []byte) []byte { return appendObject(b, &e, paymentsIssuedFields) }
func (e *PaymentsIssued) decodeJSON(data []byte) bool {
	return decodeTop(data, e, paymentsIssuedFields)
}
func (e PaymentsSettled) appendJSON(b []byte) []byte {
	return appendObject(b, &e, paymentsSettledFields)
}
func (e *PaymentsSettled) decodeJSON(data []byte) bool {
	return decodeTop(data, e, paymentsSettledFields)
}
func (e PaymentsSettledLate) appendJSON(b []byte) []byte {
	return appendObject(b, &e, paymentsSettledLateFields)
}
func (e *PaymentsSettledLate) decodeJSON(data []byte) bool {
	return decodeTop(data, e, paymentsSettledLateFields)
}
func (e PaymentsFailed) appendJSON(b []byte) []byte { return appendObject(b, &e, paymentsFailedFields) }
func (e *PaymentsFailed) decodeJSON(data []byte) bool {
	return decodeTop(data, e, paymentsFailedFields)
}

// The events of one payment are only read directly (encoding/json took
// about 4 µs each, as long as reading them from the database).
func (e *PaymentIssued) decodeJSON(data []byte) bool {
	return decodeSingle(data, e, paymentIssuedFields)
}
func (e *PaymentSettled) decodeJSON(data []byte) bool {
	return decodeSingle(data, e, paymentSettledFields)
}
func (e *PaymentFailed) decodeJSON(data []byte) bool {
	return decodeSingle(data, e, paymentFailedFields)
}
func (e *PaymentReversed) decodeJSON(data []byte) bool {
	return decodeSingle(data, e, paymentReversedFields)
}

func (e LinesReserved) sizeHint() int       { return linesHint(e.Lines) }
func (e PaymentsIssued) sizeHint() int      { return linesHint(e.Payments) }
func (e PaymentsSettled) sizeHint() int     { return linesHint(e.Payments) }
func (e PaymentsSettledLate) sizeHint() int { return linesHint(e.Payments) }
func (e PaymentsFailed) sizeHint() int      { return linesHint(e.Payments) }

// The lines write themselves too, so that Chunks measures them directly.

func (l PayrollLine) appendJSON(b []byte) []byte    { return appendObject(b, &l, payrollLineFields) }
func (l PaymentIssued) appendJSON(b []byte) []byte  { return appendObject(b, &l, paymentIssuedFields) }
func (l PaymentSettled) appendJSON(b []byte) []byte { return appendObject(b, &l, paymentSettledFields) }
func (l PaymentFailed) appendJSON(b []byte) []byte  { return appendObject(b, &l, paymentFailedFields) }
