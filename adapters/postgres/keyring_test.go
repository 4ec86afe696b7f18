package postgres_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/lushan-dpf/ledger/adapters/postgres"
	"github.com/lushan-dpf/ledger/adapters/postgres/pgtest"
	"github.com/lushan-dpf/ledger/adapters/vault"
	"github.com/lushan-dpf/ledger/domain"
)

const otherMasterKey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

// A person's data is sealed with a key of their own, stored only sealed
// by the master key; sealing is deterministic; another process (a new
// keyring) opens it; after erasure no keyring can, and nothing is sealed
// for the person again.
func TestKeyringSealsOpensAndErases(t *testing.T) {
	ctx := context.Background()
	db := pgtest.NewSchema(t)
	k, err := postgres.NewKeyring(db.Pool, postgres.DevelopmentMasterKey)
	if err != nil {
		t.Fatal(err)
	}
	alice, bob := domain.PersonID("a1b2c3d4e5f60718293a"), domain.PersonID("0123456789abcdef0123")
	plain := []byte(`{"id_number":"360483197005010117","name":"张三"}`)
	s1, err := k.Seal(ctx, alice, plain)
	if err != nil {
		t.Fatal(err)
	}
	if s2, _ := k.Seal(ctx, alice, plain); s2 != s1 {
		t.Errorf("sealing the same data twice gave %s and %s", s1, s2)
	}
	if sb, _ := k.Seal(ctx, bob, plain); sb == s1 || strings.Contains(string(sb), string(s1[len(alice)+4:])) {
		t.Error("two persons' keys sealed the same data alike")
	}
	if bytes.Contains([]byte(s1), []byte("360483")) || !strings.HasPrefix(string(s1), "p1:"+string(alice)+":") {
		t.Errorf("sealed value %s", s1)
	}
	var stored string
	if err := db.Pool.QueryRow(ctx, `SELECT sealed_key FROM person_keys WHERE person_id = $1`, string(alice)).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stored, "v1:") {
		t.Errorf("the data key is stored as %q, not sealed by the master key", stored)
	}

	other, _ := postgres.NewKeyring(db.Pool, postgres.DevelopmentMasterKey)
	if got, err := other.Open(ctx, s1); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("another keyring opens %q, %v", got, err)
	}
	wrong, _ := postgres.NewKeyring(db.Pool, otherMasterKey)
	if _, err := wrong.Open(ctx, s1); err == nil || !strings.Contains(err.Error(), "LEDGER_MASTER_KEY") {
		t.Errorf("opened with the wrong master key: %v", err)
	}
	moved := domain.Sealed(strings.Replace(string(s1), string(alice), string(bob), 1))
	if _, err := other.Open(ctx, moved); err == nil {
		t.Error("a value sealed for one person opened as another's")
	}
	if _, err := other.Open(ctx, domain.Sealed("p1:"+string("ffffffffffffffffffff")+":AAAA")); err == nil || errors.Is(err, domain.ErrErased) {
		t.Errorf("a person without a key: %v; want an error that is not an erasure", err)
	}

	if err := k.Erase(ctx, alice); err != nil {
		t.Fatal(err)
	}
	if err := k.Erase(ctx, alice); err != nil {
		t.Fatalf("erasing twice: %v", err)
	}
	if err := db.Pool.QueryRow(ctx, `SELECT coalesce(sealed_key, '') FROM person_keys WHERE person_id = $1`, string(alice)).Scan(&stored); err != nil || stored != "" {
		t.Fatalf("after erasure the row holds %q (%v)", stored, err)
	}
	other.Forget(alice) // as the registry does when it decodes PersonErased
	for _, kr := range []*postgres.Keyring{k, other, must(postgres.NewKeyring(db.Pool, postgres.DevelopmentMasterKey))} {
		if _, err := kr.Open(ctx, s1); !errors.Is(err, domain.ErrErased) {
			t.Errorf("opening erased data: %v; want ErrErased", err)
		}
		if _, err := kr.Seal(ctx, alice, plain); !errors.Is(err, domain.ErrErased) {
			t.Errorf("sealing for an erased person: %v; want ErrErased", err)
		}
	}
	if erased, err := k.Erased(ctx, alice); err != nil || !erased {
		t.Errorf("Erased = %v, %v", erased, err)
	}
}

// Writers racing to create one person's key all end up with the same
// key; Prepare creates many in one go and reads past ones back in bulk.
func TestKeyringCreatesOneKeyPerPersonUnderRaces(t *testing.T) {
	ctx := context.Background()
	db := pgtest.NewSchema(t)
	person := domain.PersonID("a1b2c3d4e5f60718293a")
	var wg sync.WaitGroup
	sealed := make([]domain.Sealed, 8)
	for i := range sealed {
		wg.Go(func() {
			k := must(postgres.NewKeyring(db.Pool, postgres.DevelopmentMasterKey))
			s, err := k.Seal(ctx, person, []byte("same"))
			if err != nil {
				t.Error(err)
			}
			sealed[i] = s
		})
	}
	wg.Wait()
	for _, s := range sealed[1:] {
		if s != sealed[0] {
			t.Fatalf("racing writers sealed with different keys: %s, %s", sealed[0], s)
		}
	}
	k := must(postgres.NewKeyring(db.Pool, postgres.DevelopmentMasterKey))
	var ids []domain.PersonID
	for i := range 600 {
		ids = append(ids, domain.PersonID(fmt.Sprintf("%020x", i+1)))
	}
	if err := k.Prepare(ctx, ids); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM person_keys`).Scan(&n); err != nil || n != 601 {
		t.Fatalf("%d keys (%v); want 601", n, err)
	}
	// A fresh keyring opening all of them goes over to reading every key
	// at once and still opens each with its own.
	fresh := must(postgres.NewKeyring(db.Pool, postgres.DevelopmentMasterKey))
	for _, id := range ids {
		s, err := k.Seal(ctx, id, []byte(id))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := fresh.Open(ctx, s); err != nil || string(got) != string(id) {
			t.Fatalf("open %s: %q, %v", id, got, err)
		}
	}
}

// The format is vault's: a value sealed by the keyring opens with the
// person's key through vault.OpenPersonal and with no other person's.
func TestSealedPersonalDataFormat(t *testing.T) {
	var key [32]byte
	copy(key[:], "0123456789abcdef0123456789abcdef")
	s := vault.SealPersonal(key, "a1b2c3d4e5f60718293a", []byte("张三"))
	if got, err := vault.OpenPersonal(key, "a1b2c3d4e5f60718293a", s); err != nil || string(got) != "张三" {
		t.Fatalf("open: %q, %v", got, err)
	}
	tampered := s[:len(s)-2] + "AA"
	if _, err := vault.OpenPersonal(key, "a1b2c3d4e5f60718293a", tampered); !errors.Is(err, vault.ErrWrongKey) {
		t.Errorf("tampered value: %v; want ErrWrongKey", err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
