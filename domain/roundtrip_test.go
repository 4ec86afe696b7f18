package domain

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Every payroll event type decodes to exactly what was encoded, every
// field set: the application folds the events it just appended as decided,
// not decoded again (app's stream.append), which is sound only if nothing
// is lost or changed on the way through JSON.
func TestEveryPayrollEventRoundTripsUnchanged(t *testing.T) {
	r := NewLedgerRegistry()
	n := 0
	for _, typ := range r.Types() {
		if !strings.HasPrefix(typ, "payroll.") {
			continue // person events go through app.Persons, which folds what it reads
		}
		n++
		e := r.types[typ]()
		fill(t, reflect.ValueOf(e).Elem(), typ)
		data, err := json.Marshal(e)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		got, err := r.Decode(typ, data)
		if err != nil {
			t.Fatalf("%s: decode %s: %v", typ, data, err)
		}
		if !reflect.DeepEqual(got, e) {
			t.Errorf("%s changes through JSON:\n sent %+v\n  got %+v\n json %s", typ, e, got, data)
		}
	}
	if n < 20 {
		t.Errorf("%d payroll event types; want every one", n)
	}
}

// fill sets every field of v, recursively, to a value other than its zero.
func fill(t *testing.T, v reflect.Value, path string) {
	switch x := v.Addr().Interface().(type) {
	case *Money:
		*x = MustMoney("1234.56")
		return
	case *Date:
		*x = MustDate("2025-03-20")
		return
	case *Period:
		*x = MustDate("2025-03-01").Period()
		return
	case *time.Time:
		*x = time.Date(2025, 3, 20, 9, 30, 0, 0, time.UTC)
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString("x-" + path)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(7)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(7)
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() {
				t.Fatalf("%s.%s is unexported: it would not survive JSON", path, f.Name)
			}
			fill(t, v.Field(i), path+"."+f.Name)
		}
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			fill(t, s.Index(i), path+"[]")
		}
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(t, k, path+"{k}")
		fill(t, e, path+"{v}")
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(t, p.Elem(), path)
		v.Set(p)
	default:
		t.Fatalf("%s: cannot fill a %s", path, v.Kind())
	}
}
