package domain

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Personal data at rest (crypto-shredding). The direct identifiers an
// event carries about a person — the resident ID number, the name, the
// bank account — are not stored in clear: they are sealed with a data key
// of that person's own (Sealed) before the event is encoded, and opened
// with it when the event is decoded. Erasing a person deletes the key:
// the events stay as they were, byte for byte (their hashes and chains
// still verify), but what they hold of the person can no longer be read.
//
// The domain decides what is personal and what it looks like in clear;
// PersonalKeys, a port, keeps the keys and does the cryptography.

// Sealed is personal data sealed with its person's data key, as
// PersonalKeys.Seal returns it: "p1:<person ID>:<base64>". It names the
// person, so it can be opened without knowing where it was read.
type Sealed string

// sealedPrefix starts every Sealed value of the current format.
const sealedPrefix = "p1:"

// Person returns the person whose key sealed s.
func (s Sealed) Person() (PersonID, error) {
	rest, ok := strings.CutPrefix(string(s), sealedPrefix)
	id, _, ok2 := strings.Cut(rest, ":")
	if !ok || !ok2 {
		return "", fmt.Errorf("sealed personal data: not in the p1:<person>:<data> form")
	}
	return ParsePersonID("sealed", id)
}

// PersonalKeys keeps one data key per person and seals and opens personal
// data with it. adapters/postgres implements it (keys sealed by a master
// key, kept in PostgreSQL); every event store carries the keys of the
// personal data appended to it (EventStore.PersonalKeys).
type PersonalKeys interface {
	// Seal encrypts plain with the person's data key, creating the key
	// when the person has none yet. Sealing the same plain text for the
	// same person gives the same Sealed value, so a command decided again
	// encodes to the same bytes. Sealing for an erased person fails with
	// ErrErased.
	Seal(ctx context.Context, person PersonID, plain []byte) (Sealed, error)
	// Open decrypts what Seal returned. It fails with ErrErased when the
	// person's key was erased.
	Open(ctx context.Context, s Sealed) ([]byte, error)
	// Erase deletes the person's data key for good; erasing twice is not
	// an error.
	Erase(ctx context.Context, person PersonID) error
	// Forget drops a key the process may hold in memory, after another
	// process erased it.
	Forget(person PersonID)
}

// ErrErased: the person's data key was erased, so their personal data
// can no longer be read (or sealed).
var ErrErased = errors.New("personal data erased")

// ErasedText is what the ledger shows in place of erased personal data.
const ErasedText = "(erased)"

// personalEvent is an event that carries personal data. sealPersonal
// returns a copy of the event (a value) with its personal data sealed —
// its fields in clear are kept, for folding, but never encoded;
// openPersonal opens a decoded event's sealed data into its fields in
// clear (keys nil: leaves them empty); checkSealed fails for an event
// whose personal data is not sealed, which must not be encoded.
type personalEvent interface {
	Event
	sealPersonal(ctx context.Context, keys PersonalKeys, stream PersonID) (Event, error)
	checkSealed() error
}

type personalOpener interface {
	openPersonal(ctx context.Context, keys PersonalKeys) error
}

// SealPersonal returns events with the personal data of each sealed with
// its person's key, ready for Seal. stream is the person whose stream the
// events go to, "" for another stream (events that name persons of their
// own, such as a roster's differences, use theirs). Events without
// personal data are returned as they are.
func SealPersonal(ctx context.Context, keys PersonalKeys, stream PersonID, events []Event) ([]Event, error) {
	var out []Event
	for i, ev := range events {
		p, ok := ev.(personalEvent)
		if !ok {
			continue
		}
		if keys == nil {
			return nil, fmt.Errorf("seal %s: the event store keeps no personal data keys", ev.EventType())
		}
		if out == nil {
			out = append([]Event(nil), events...)
		}
		sealed, err := p.sealPersonal(ctx, keys, stream)
		if err != nil {
			return nil, fmt.Errorf("seal %s: %w", ev.EventType(), err)
		}
		out[i] = sealed
	}
	if out == nil {
		return events, nil
	}
	return out, nil
}

// sealJSON seals v's JSON encoding for person.
func sealJSON(ctx context.Context, keys PersonalKeys, person PersonID, v any) (Sealed, error) {
	if person == "" {
		return "", fmt.Errorf("personal data without a person")
	}
	plain, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return keys.Seal(ctx, person, plain)
}

// openJSON opens s into v. It returns erased true (and no error) when the
// person's key was erased, and does nothing when keys is nil or s empty.
func openJSON(ctx context.Context, keys PersonalKeys, s Sealed, v any) (erased bool, err error) {
	if keys == nil || s == "" {
		return false, nil
	}
	plain, err := keys.Open(ctx, s)
	if errors.Is(err, ErrErased) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return false, json.Unmarshal(plain, v)
}

// openOrLegacy returns an event's personal data: the copy in clear of an
// event written before sealing (legacy), else s opened (erased true when
// the key is gone).
func openOrLegacy[T any](ctx context.Context, keys PersonalKeys, s Sealed, legacy *T) (v T, erased bool, err error) {
	if legacy != nil {
		return *legacy, false, nil
	}
	erased, err = openJSON(ctx, keys, s, &v)
	return v, erased, err
}

// checkSealedOne is checkSealed for an event with one sealed value.
func checkSealedOne[T any](typ string, s Sealed, legacy *T) error {
	if s == "" || legacy != nil {
		return errNotSealed(typ)
	}
	return nil
}

// errNotSealed is checkSealed's error.
func errNotSealed(typ string) error {
	return fmt.Errorf("%s: personal data not sealed (domain.SealPersonal)", typ)
}
