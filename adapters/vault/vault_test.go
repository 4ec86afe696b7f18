package vault_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/lushan-dpf/ledger/adapters/vault"
)

const key1 = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
const key2 = "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

func TestSealOpen(t *testing.T) {
	v, err := vault.New(key1)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := v.Seal("6228480012345678901")
	b, _ := v.Seal("6228480012345678901")
	if a == b || strings.Contains(a, "6228480012345678901") {
		t.Fatalf("sealed values %q %q: must differ and hide the number", a, b)
	}
	if got, err := v.Open(a); err != nil || got != "6228480012345678901" {
		t.Fatalf("open: %q %v", got, err)
	}
	other, _ := vault.New(key2)
	if _, err := other.Open(a); !errors.Is(err, vault.ErrWrongKey) {
		t.Errorf("another key opened it: %v", err)
	}
	tampered := a[:len(a)-2] + "AA"
	if _, err := v.Open(tampered); err == nil {
		t.Error("an altered value opened")
	}
	for _, bad := range []string{"", "short", strings.Repeat("g", 64)} {
		if _, err := vault.New(bad); err == nil {
			t.Errorf("key %q accepted", bad)
		}
	}
}
