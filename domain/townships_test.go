package domain

import (
	"errors"
	"strings"
	"testing"
)

// Given the county's township register, when a person is registered or
// moves, then the township must be one in force on that day; an unknown
// name, or an ID number typed into the field, is refused with an error
// that names the field, says why and (for an ID number) does not repeat it.
func TestTownshipMustBeInTheRegister(t *testing.T) {
	reg := RegisterPerson{IDNumber: adultID, IDHash: testKey.Hash(adultID), Name: "张三", Township: "火星镇", RegisteredOn: d("2024-01-05")}
	_, err := Decide(Beneficiary{}, reg, testNow)
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "township" || !strings.Contains(err.Error(), `"火星镇" is not a township of the county`) ||
		!strings.Contains(err.Error(), "白鹿镇") {
		t.Fatalf("unknown township: %v; want a township error listing the register", err)
	}
	reg.Township = adultID.String()
	_, err = Decide(Beneficiary{}, reg, testNow)
	if !errors.As(err, &fe) || fe.Field != "township" || strings.Contains(err.Error(), adultID.String()) || !strings.Contains(err.Error(), "ID number") {
		t.Fatalf("ID number as township: %v; want it refused without repeating it", err)
	}
	reg.Township = "蛟塘镇"
	if _, err := Decide(Beneficiary{}, reg, testNow); err != nil {
		t.Fatalf("a township of the register: %v", err)
	}

	person := fold(adult())
	for _, tc := range []struct {
		name  string
		move  MovePerson
		field string
	}{
		{"to an unknown township", MovePerson{ToTownship: "火星镇", EffectiveOn: d("2024-09-01")}, "township"},
		{"to an ID number", MovePerson{ToTownship: "３６０４２９１９７００５０１００１１", EffectiveOn: d("2024-09-01")}, "township"},
		{"before the registration", MovePerson{ToTownship: "星子镇", EffectiveOn: person.RegisteredOn.AddDays(-1)}, "effective_on"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs, err := Decide(person, tc.move, testNow)
			if !errors.As(err, &fe) || fe.Field != tc.field || len(evs) != 0 {
				t.Fatalf("got %v, %v; want invalid %s and no events", evs, err, tc.field)
			}
		})
	}
}

// A township merged away is valid on the days it stood and refused after,
// with the dates it stood in the error.
func TestTownshipInForceOnTheDay(t *testing.T) {
	saved := townshipRegister
	t.Cleanup(func() { townshipRegister = saved })
	townshipRegister = append([]Township{{Code: "360483199", Name: "黄龙乡", To: d("2024-06-30")}}, saved...)
	if _, err := CheckTownship("township", "黄龙乡", d("2024-06-30")); err != nil {
		t.Errorf("on its last day: %v", err)
	}
	_, err := CheckTownship("township", "黄龙乡", d("2024-07-01"))
	if err == nil || !strings.Contains(err.Error(), "until 2024-06-30, not on 2024-07-01") {
		t.Errorf("after it was merged: %v", err)
	}
	if n := len(TownshipsOn(d("2024-07-01"))); n != len(saved) {
		t.Errorf("%d townships on 2024-07-01, want %d", n, len(saved))
	}
}
