package postgres

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lushan-dpf/ledger/adapters/vault"
	"github.com/lushan-dpf/ledger/domain"
)

// Keyring keeps one AES-256 data key per person in person_keys, sealed by
// the master key, and seals and opens personal data with it: it
// implements domain.PersonalKeys. Erase sets a person's key to NULL; what
// was sealed with it can never be opened again.
//
// The data is sealed as vault.SealPersonal says.
//
// Opened keys are kept in memory for the life of the process (about 100
// bytes a person). The first keys are read one by one; after
// bulkAfterMisses reads a keyring reads every key at once, as a rebuild of
// the read models needs them all.
type Keyring struct {
	pool   *pgxpool.Pool
	master *vault.Vault

	mu     sync.RWMutex
	keys   map[domain.PersonID]dataKey
	misses int
	all    bool // every key stored when loadAll ran is in keys
}

// dataKey is a person's key, or erased.
type dataKey struct {
	key    [32]byte
	erased bool
}

// DevelopmentMasterKey seals the data keys when LEDGER_MASTER_KEY is
// unset: for tests and a laptop only. A deployment sets its own 32-byte
// key (64 hex characters) and keeps it: without it no personal data can
// be read.
const DevelopmentMasterKey = "6d61737465722d6b65792d666f722d646576656c6f706d656e742d6f6e6c7921"

// bulkAfterMisses is how many keys a keyring reads one by one before it
// reads them all.
const bulkAfterMisses = 256

// NewKeyring returns a keyring on pool whose keys are sealed by the master
// key given as 64 hex characters.
func NewKeyring(pool *pgxpool.Pool, masterKey string) (*Keyring, error) {
	v, err := vault.New(masterKey)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	return &Keyring{pool: pool, master: v, keys: map[domain.PersonID]dataKey{}}, nil
}

// keyTimeout bounds a key's database round trip when the caller has no
// deadline of its own (decoding an event has no context).
const keyTimeout = 30 * time.Second

// Seal implements domain.PersonalKeys.
func (k *Keyring) Seal(ctx context.Context, person domain.PersonID, plain []byte) (domain.Sealed, error) {
	dk, err := k.key(ctx, person, true)
	if err != nil {
		return "", err
	}
	return domain.Sealed(vault.SealPersonal(dk.key, string(person), plain)), nil
}

// Open implements domain.PersonalKeys.
func (k *Keyring) Open(ctx context.Context, s domain.Sealed) ([]byte, error) {
	person, err := s.Person()
	if err != nil {
		return nil, err
	}
	dk, err := k.key(ctx, person, false)
	if err != nil {
		return nil, err
	}
	return vault.OpenPersonal(dk.key, string(person), string(s))
}

// Erase implements domain.PersonalKeys: the person's key is set to NULL
// (a person who never had one gets an erased row, so nothing is ever
// sealed for them again).
func (k *Keyring) Erase(ctx context.Context, person domain.PersonID) error {
	_, err := k.pool.Exec(ctx, `INSERT INTO person_keys (person_id, sealed_key, erased_at) VALUES ($1, NULL, now())
		ON CONFLICT (person_id) DO UPDATE SET sealed_key = NULL, erased_at = COALESCE(person_keys.erased_at, now())`, string(person))
	if err != nil {
		return fmt.Errorf("erase the data key of %s: %w", person, err)
	}
	k.mu.Lock()
	k.keys[person] = dataKey{erased: true}
	k.mu.Unlock()
	return nil
}

// Forget implements domain.PersonalKeys.
func (k *Keyring) Forget(person domain.PersonID) {
	k.mu.Lock()
	delete(k.keys, person)
	k.mu.Unlock()
}

// Erased reports whether the person's key was erased (for tests and
// checks: an erased row holds no key).
func (k *Keyring) Erased(ctx context.Context, person domain.PersonID) (bool, error) {
	var erased bool
	err := k.pool.QueryRow(ctx, `SELECT sealed_key IS NULL FROM person_keys WHERE person_id = $1`, string(person)).Scan(&erased)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return erased, err
}

// key returns the person's key: from memory, else from the table,
// creating it when create is set and the person has none.
func (k *Keyring) key(ctx context.Context, person domain.PersonID, create bool) (dataKey, error) {
	k.mu.RLock()
	dk, ok := k.keys[person]
	k.mu.RUnlock()
	if !ok {
		if _, has := ctx.Deadline(); !has {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, keyTimeout)
			defer cancel()
		}
		var err error
		if dk, ok, err = k.load(ctx, person); err != nil {
			return dataKey{}, err
		}
		if !ok && create {
			if dk, err = k.create(ctx, person); err != nil {
				return dataKey{}, err
			}
			ok = true
		}
		if !ok {
			return dataKey{}, fmt.Errorf("no data key for person %s: their personal data cannot be opened (was person_keys restored with the event store?)", person)
		}
	}
	if dk.erased {
		return dataKey{}, domain.ErrErased
	}
	return dk, nil
}

// load reads the person's key, or, after bulkAfterMisses single reads,
// every key.
func (k *Keyring) load(ctx context.Context, person domain.PersonID) (dataKey, bool, error) {
	k.mu.Lock()
	k.misses++
	bulk := !k.all && k.misses > bulkAfterMisses
	k.mu.Unlock()
	if bulk {
		if err := k.loadAll(ctx); err != nil {
			return dataKey{}, false, err
		}
		k.mu.RLock()
		dk, ok := k.keys[person]
		k.mu.RUnlock()
		if ok {
			return dk, true, nil
		}
	}
	var sealed *string
	err := k.pool.QueryRow(ctx, `SELECT sealed_key FROM person_keys WHERE person_id = $1`, string(person)).Scan(&sealed)
	if errors.Is(err, pgx.ErrNoRows) {
		return dataKey{}, false, nil
	}
	if err != nil {
		return dataKey{}, false, fmt.Errorf("read the data key of %s: %w", person, err)
	}
	dk, err := k.unseal(person, sealed)
	if err != nil {
		return dataKey{}, false, err
	}
	k.remember(person, dk)
	return dk, true, nil
}

// loadAll reads every key into memory.
func (k *Keyring) loadAll(ctx context.Context) error {
	rows, err := k.pool.Query(ctx, `SELECT person_id, sealed_key FROM person_keys`)
	if err != nil {
		return fmt.Errorf("read the data keys: %w", err)
	}
	loaded := map[domain.PersonID]dataKey{}
	var person string
	var sealed *string
	_, err = pgx.ForEachRow(rows, []any{&person, &sealed}, func() error {
		dk, err := k.unseal(domain.PersonID(person), sealed)
		loaded[domain.PersonID(person)] = dk
		return err
	})
	if err != nil {
		return fmt.Errorf("read the data keys: %w", err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for p, dk := range loaded {
		if _, ok := k.keys[p]; !ok {
			k.keys[p] = dk
		}
	}
	k.all = true
	return nil
}

// create makes a key for the person, or reads the one another writer made
// first: Prepare for one person.
func (k *Keyring) create(ctx context.Context, person domain.PersonID) (dataKey, error) {
	if err := k.Prepare(ctx, []domain.PersonID{person}); err != nil {
		return dataKey{}, err
	}
	k.mu.RLock()
	dk, ok := k.keys[person]
	k.mu.RUnlock()
	if !ok {
		return dataKey{}, fmt.Errorf("the data key of %s was stored but not read back", person)
	}
	return dk, nil
}

// Prepare makes sure every person given has a key, creating the missing
// ones in one statement — the bulk path of seeding, so that sealing a
// hundred thousand registrations does not make a hundred thousand round
// trips — and reads back the keys stored, another writer's where it
// stored one first. The read is a statement of its own: a row another
// writer commits while the insert runs is seen by it, not by the
// insert's snapshot.
func (k *Keyring) Prepare(ctx context.Context, persons []domain.PersonID) error {
	var ids, sealed []string
	k.mu.RLock()
	for _, p := range persons {
		if _, ok := k.keys[p]; !ok {
			ids = append(ids, string(p))
		}
	}
	k.mu.RUnlock()
	if len(ids) == 0 {
		return nil
	}
	for range ids {
		var key [32]byte
		if _, err := rand.Read(key[:]); err != nil {
			return err
		}
		s, err := k.master.Seal(base64.RawStdEncoding.EncodeToString(key[:]))
		if err != nil {
			return err
		}
		sealed = append(sealed, s)
	}
	if _, err := k.pool.Exec(ctx, `INSERT INTO person_keys (person_id, sealed_key)
		SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT (person_id) DO NOTHING`, ids, sealed); err != nil {
		return fmt.Errorf("store data keys: %w", err)
	}
	rows, err := k.pool.Query(ctx, `SELECT person_id, sealed_key FROM person_keys WHERE person_id = ANY($1)`, ids)
	if err != nil {
		return fmt.Errorf("read data keys: %w", err)
	}
	var person string
	var stored *string
	_, err = pgx.ForEachRow(rows, []any{&person, &stored}, func() error {
		dk, err := k.unseal(domain.PersonID(person), stored)
		if err == nil {
			k.remember(domain.PersonID(person), dk)
		}
		return err
	})
	return err
}

func (k *Keyring) remember(person domain.PersonID, dk dataKey) {
	k.mu.Lock()
	k.keys[person] = dk
	k.mu.Unlock()
}

// unseal opens a stored key with the master key; NULL is an erased key.
func (k *Keyring) unseal(person domain.PersonID, sealed *string) (dataKey, error) {
	if sealed == nil {
		return dataKey{erased: true}, nil
	}
	s, err := k.master.Open(*sealed)
	if err != nil {
		return dataKey{}, fmt.Errorf("the data key of %s: %w (is LEDGER_MASTER_KEY the key the ledger was started with?)", person, err)
	}
	b, err := base64.RawStdEncoding.DecodeString(s)
	var dk dataKey
	if err != nil || copy(dk.key[:], b) != 32 || len(b) != 32 {
		return dataKey{}, fmt.Errorf("the data key of %s: not a 32-byte key", person)
	}
	return dk, nil
}
