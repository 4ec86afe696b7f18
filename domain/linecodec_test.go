package domain

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The direct codec of the long steps' events must be indistinguishable
// from encoding/json: the same bytes written (the hash chain covers them),
// the same value read, and every form it does not read handed back.

// lineGen makes random lines whose strings range over what the ledger
// writes (references, IDs, Chinese names) and what json.Marshal escapes.
type lineGen struct {
	r     *rand.Rand
	plain bool // only strings json.Marshal writes as they are
}

var (
	plainStrings = []string{"", "lsk3fq7aa1b2c3d4e5f60718293a2501", "星子镇", "living_subsidy.2025-03.ab12cd", "regular", "B0001234", "账户已销户", "a b"}
	oddStrings   = []string{"<b>&", `say "hi"`, `back\slash`, "tab\there", "line\nbreak", "\x01ctl", "sep\u2028x", "para\u2029", "bad\xffutf8", "\u00e9t\u00e9", "emoji \U0001F600", "/slash/"}
)

func (g lineGen) str() string {
	if g.plain || g.r.IntN(3) > 0 {
		return plainStrings[g.r.IntN(len(plainStrings))]
	}
	return oddStrings[g.r.IntN(len(oddStrings))] + plainStrings[g.r.IntN(len(plainStrings))]
}

func (g lineGen) money() Money { return Money{fen: g.r.Int64N(1_000_000_00)} }

func (g lineGen) period() Period {
	if g.r.IntN(10) == 0 {
		return Period{}
	}
	return Period{year: 1900 + g.r.IntN(300), month: time.Month(1 + g.r.IntN(12))}
}

func (g lineGen) date() Date {
	if g.r.IntN(10) == 0 {
		return Date{}
	}
	return NewDate(1900+g.r.IntN(300), time.Month(1+g.r.IntN(12)), 1+g.r.IntN(28))
}

func (g lineGen) paymentLine() PaymentLine {
	return PaymentLine{Reference: g.str(), BatchID: g.str(), PersonID: PersonID(g.str()), Program: ProgramCode(g.str()), Period: g.period(),
		Kind: PaymentKind(g.str()), Amount: g.money(), Township: g.str(), PaidOn: g.date()}
}

// events returns one event of each type with a direct codec, with n lines,
// and one of each single-payment event.
func (g lineGen) events(n int) []Event {
	var (
		reserved = LinesReserved{BatchID: g.str(), Program: ProgramCode(g.str()), Period: g.period(), PaidOn: g.date()}
		issued   = PaymentsIssued{BatchID: g.str()}
		settled  = PaymentsSettled{BatchID: g.str(), FileSHA256: g.str()}
		late     = PaymentsSettledLate{BatchID: g.str(), FileSHA256: g.str()}
		failed   = PaymentsFailed{BatchID: g.str(), FileSHA256: g.str()}
	)
	if n > 0 {
		reserved.Lines, issued.Payments, settled.Payments, late.Payments, failed.Payments =
			[]PayrollLine{}, []PaymentIssued{}, []PaymentSettled{}, []PaymentSettled{}, []PaymentFailed{}
	}
	for range n {
		reserved.Lines = append(reserved.Lines, PayrollLine{Reference: g.str(), PersonID: PersonID(g.str()), Kind: PaymentKind(g.str()),
			Period: g.period(), Amount: g.money(), Township: g.str()})
		issued.Payments = append(issued.Payments, PaymentIssued{g.paymentLine()})
		settled.Payments = append(settled.Payments, PaymentSettled{PaymentLine: g.paymentLine(), BankReference: g.str(), SettledOn: g.date()})
		late.Payments = append(late.Payments, PaymentSettled{PaymentLine: g.paymentLine(), BankReference: g.str(), SettledOn: g.date()})
		failed.Payments = append(failed.Payments, PaymentFailed{PaymentLine: g.paymentLine(), Reason: g.str(), FailedOn: g.date()})
	}
	return []Event{reserved, issued, settled, late, failed,
		PaymentIssued{g.paymentLine()},
		PaymentSettled{PaymentLine: g.paymentLine(), BankReference: g.str(), SettledOn: g.date()},
		PaymentFailed{PaymentLine: g.paymentLine(), Reason: g.str(), FailedOn: g.date()},
		PaymentReversed{PaymentLine: g.paymentLine(), Reason: g.str(), ReversedOn: g.date()}}
}

// decodeBoth decodes data as encoding/json does and with the direct
// decoder; ok is whether the direct decoder read it.
func decodeBoth(t *testing.T, ev Event, data []byte) (want, got any, wantErr error, ok bool) {
	t.Helper()
	typ := reflect.TypeOf(ev)
	w := reflect.New(typ)
	wantErr = json.Unmarshal(data, w.Interface())
	g := reflect.New(typ)
	ok = g.Interface().(fastDecoder).decodeJSON(data)
	return w.Elem().Interface(), g.Elem().Interface(), wantErr, ok
}

func TestLineCodecWritesWhatJSONMarshalWrites(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 300 {
		g := lineGen{r: r, plain: round%2 == 0}
		for _, ev := range g.events(r.IntN(6)) {
			want, err := json.Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			got, err := encodeEvent(ev)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%s encodes as\n%s\nwant (json.Marshal)\n%s", ev.EventType(), got, want)
			}
		}
	}
}

func TestLineCodecReadsWhatJSONUnmarshalReads(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for round := range 300 {
		g := lineGen{r: r, plain: round%2 == 0}
		for _, ev := range g.events(r.IntN(6)) {
			data, _ := json.Marshal(ev)
			var indented bytes.Buffer
			if err := json.Indent(&indented, data, " ", "\t"); err != nil {
				t.Fatal(err)
			}
			for _, form := range [][]byte{data, indented.Bytes(), reordered(t, data)} {
				want, got, wantErr, ok := decodeBoth(t, ev, form)
				if g.plain && !ok {
					t.Fatalf("%s: the direct decoder declined what json.Marshal wrote:\n%s", ev.EventType(), form)
				}
				if ok && (wantErr != nil || !reflect.DeepEqual(got, want)) {
					t.Fatalf("%s: read\n%+v\nwant (encoding/json: %v)\n%+v\nfrom\n%s", ev.EventType(), got, wantErr, want, form)
				}
				if g.plain && !reflect.DeepEqual(got, reflect.ValueOf(ev).Interface()) {
					t.Fatalf("%s: read back\n%+v\nwant\n%+v", ev.EventType(), got, ev)
				}
			}
		}
	}
}

// reordered is data with every object's keys in reverse order.
func reordered(t *testing.T, data []byte) []byte {
	t.Helper()
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	var write func(v any)
	write = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			b.WriteByte('{')
			for i := len(keys) - 1; i >= 0; i-- {
				k, _ := json.Marshal(keys[i])
				b.Write(k)
				b.WriteByte(':')
				write(v[keys[i]])
				if i > 0 {
					b.WriteByte(',')
				}
			}
			b.WriteByte('}')
		case []any:
			b.WriteByte('[')
			for i, e := range v {
				if i > 0 {
					b.WriteByte(',')
				}
				write(e)
			}
			b.WriteByte(']')
		default:
			x, _ := json.Marshal(v)
			b.Write(x)
		}
	}
	write(v)
	return b.Bytes()
}

// TestLineCodecDeclinesOtherForms: what json.Marshal does not write is
// left to encoding/json, and the registry reads it exactly as
// encoding/json does — a value or the same error.
func TestLineCodecDeclinesOtherForms(t *testing.T) {
	base := `{"batch_id":"b","payments":[{"reference":"r1","batch_id":"b","person_id":"p","program":"living_subsidy","period":"2025-03","kind":"regular","amount":"110.00","township":"星子镇","paid_on":"2025-03-18"}]}`
	cases := map[string]string{
		"escape in a string":    strings.Replace(base, `"r1"`, `"r\u0031"`, 1),
		"a key of another case": strings.Replace(base, `"reference"`, `"Reference"`, 1),
		"an unknown key":        strings.Replace(base, `"kind"`, `"note":"x","kind"`, 1),
		"null string":           strings.Replace(base, `"星子镇"`, `null`, 1),
		"amount as a number":    strings.Replace(base, `"110.00"`, `110.00`, 1),
		"bad amount":            strings.Replace(base, `"110.00"`, `"11.0.0"`, 1),
		"bad period":            strings.Replace(base, `"2025-03"`, `"2025-13"`, 1),
		"a day February lacks":  strings.Replace(base, `"2025-03-18"`, `"2025-02-30"`, 1),
		"a short date":          strings.Replace(base, `"2025-03-18"`, `"2025-3-18"`, 1),
		"three decimals":        strings.Replace(base, `"110.00"`, `"110.000"`, 1),
		"trailing data":         base + `{}`,
		"truncated":             base[:len(base)-3],
		"invalid UTF-8":         strings.Replace(base, `星子镇`, "\xff", 1),
		"a raw control char":    strings.Replace(base, `星子镇`, "\x01", 1),
		"trailing comma":        strings.Replace(base, `}]}`, `},]}`, 1),
	}
	reg := NewRegistry(func() Event { return &PaymentsIssued{} })
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			var e PaymentsIssued
			if e.decodeJSON([]byte(data)) {
				t.Fatalf("the direct decoder read %s", data)
			}
			var want PaymentsIssued
			wantErr := json.Unmarshal([]byte(data), &want)
			got, err := reg.Decode(TypePaymentsIssued, []byte(data))
			if (err != nil) != (wantErr != nil) {
				t.Fatalf("registry: %v; encoding/json: %v", err, wantErr)
			}
			if err == nil && !reflect.DeepEqual(*got.(*PaymentsIssued), want) {
				t.Fatalf("registry read %+v, encoding/json %+v", got, want)
			}
		})
	}
	var e PaymentsIssued
	if !e.decodeJSON([]byte(base)) || e.Payments[0].Township != "星子镇" || e.Payments[0].Amount != MustMoney("110.00") {
		t.Fatalf("the base form was not read: %+v", e)
	}
}

// FuzzLineCodec: whatever the direct decoder reads, encoding/json reads
// too, as the same value.
func FuzzLineCodec(f *testing.F) {
	g := lineGen{r: rand.New(rand.NewPCG(5, 6))}
	for _, ev := range g.events(2) {
		data, _ := json.Marshal(ev)
		f.Add(data)
	}
	f.Add([]byte(`{"batch_id":"b","payments":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, ev := range []Event{LinesReserved{}, PaymentsIssued{}, PaymentsSettled{}, PaymentsSettledLate{}, PaymentsFailed{},
			PaymentIssued{}, PaymentSettled{}, PaymentFailed{}, PaymentReversed{}} {
			want, got, wantErr, ok := decodeBoth(t, ev, data)
			if ok && (wantErr != nil || !reflect.DeepEqual(got, want)) {
				t.Fatalf("%s: read %+v, encoding/json %+v (%v) from %q", ev.EventType(), got, want, wantErr, data)
			}
		}
	})
}
