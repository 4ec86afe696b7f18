package prtest

import (
	"context"
	"crypto/sha256"
	"sync"

	"github.com/lushan-dpf/ledger/adapters/vault"
	"github.com/lushan-dpf/ledger/domain"
)

// Keys is an in-memory domain.PersonalKeys for projection tests, which
// test tables, not where keys are kept: it seals exactly as
// postgres.Keyring does (vault.SealPersonal), with a key derived from the
// person ID, and Erase makes a person's data unreadable as erasure does.
// adapters/postgres tests the real keyring.
type Keys struct {
	mu     sync.Mutex
	erased map[domain.PersonID]bool
}

// NewKeys returns keys that no person was erased from.
func NewKeys() *Keys { return &Keys{erased: map[domain.PersonID]bool{}} }

func (k *Keys) key(person domain.PersonID) ([32]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.erased[person] {
		return [32]byte{}, domain.ErrErased
	}
	return sha256.Sum256([]byte("prtest key " + person)), nil
}

// Seal implements domain.PersonalKeys.
func (k *Keys) Seal(_ context.Context, person domain.PersonID, plain []byte) (domain.Sealed, error) {
	key, err := k.key(person)
	if err != nil {
		return "", err
	}
	return domain.Sealed(vault.SealPersonal(key, string(person), plain)), nil
}

// Open implements domain.PersonalKeys.
func (k *Keys) Open(_ context.Context, s domain.Sealed) ([]byte, error) {
	person, err := s.Person()
	if err != nil {
		return nil, err
	}
	key, err := k.key(person)
	if err != nil {
		return nil, err
	}
	return vault.OpenPersonal(key, string(person), string(s))
}

// Erase implements domain.PersonalKeys.
func (k *Keys) Erase(_ context.Context, person domain.PersonID) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.erased[person] = true
	return nil
}

// Forget implements domain.PersonalKeys.
func (k *Keys) Forget(domain.PersonID) {}
