// Package vault seals sensitive numbers (bank account numbers) with
// AES-256-GCM before they reach the ledger's events, and opens them only
// where they must leave in clear: the bank payment file.
package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Vault seals and opens with one key.
type Vault struct {
	aead cipher.AEAD
	id   string // short fingerprint of the key, written with each sealed value
}

// ErrWrongKey: a sealed value was sealed with another key, or altered.
var ErrWrongKey = errors.New("sealed with another key, or altered")

// New returns a vault for a 32-byte key given as 64 hex characters.
func New(hexKey string) (*Vault, error) {
	key, err := hex.DecodeString(hexKey)
	if err != nil || len(key) != 32 {
		return nil, errors.New("want 64 hex characters (32 bytes), e.g. from `openssl rand -hex 32`")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(key)
	return &Vault{aead: aead, id: hex.EncodeToString(sum[:4])}, nil
}

// Seal encrypts plain: "v1:<key id>:<base64 nonce+ciphertext>".
func (v *Vault) Seal(plain string) (string, error) {
	nonce := make([]byte, v.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	ct := v.aead.Seal(nonce, nonce, []byte(plain), []byte(v.id))
	return "v1:" + v.id + ":" + base64.RawStdEncoding.EncodeToString(ct), nil
}

// Open decrypts a value Seal returned.
func (v *Vault) Open(sealed string) (string, error) {
	parts := strings.SplitN(sealed, ":", 3)
	if len(parts) != 3 || parts[0] != "v1" {
		return "", fmt.Errorf("open: not a sealed value")
	}
	if parts[1] != v.id {
		return "", fmt.Errorf("open: key %s: %w", parts[1], ErrWrongKey)
	}
	ct, err := base64.RawStdEncoding.DecodeString(parts[2])
	if err != nil || len(ct) < v.aead.NonceSize() {
		return "", fmt.Errorf("open: not a sealed value")
	}
	plain, err := v.aead.Open(nil, ct[:v.aead.NonceSize()], ct[v.aead.NonceSize():], []byte(v.id))
	if err != nil {
		return "", fmt.Errorf("open: %w", ErrWrongKey)
	}
	return string(plain), nil
}

// SealPersonal seals a person's data with their data key (see
// postgres.Keyring): "p1:<person>:<base64 nonce‖ciphertext‖tag>",
// AES-256-GCM with the person ID as additional data, so a value cannot be
// moved to another person. The nonce is synthetic — an HMAC of the plain
// text under a key derived from the person's — so sealing is
// deterministic: a command decided again encodes to the same bytes, and
// that the same plain text was sealed twice for the same person is all
// two values can be seen to share.
func SealPersonal(key [32]byte, person string, plain []byte) string {
	aead, mac := personalCiphers(key)
	m := hmac.New(sha256.New, mac)
	m.Write([]byte(person))
	m.Write([]byte{0})
	m.Write(plain)
	nonce := m.Sum(nil)[:aead.NonceSize()]
	ct := aead.Seal(nonce, nonce, plain, []byte(person))
	return "p1:" + person + ":" + base64.RawStdEncoding.EncodeToString(ct)
}

// OpenPersonal opens what SealPersonal sealed for person.
func OpenPersonal(key [32]byte, person, sealed string) ([]byte, error) {
	rest, ok := strings.CutPrefix(sealed, "p1:"+person+":")
	if !ok {
		return nil, fmt.Errorf("sealed personal data: not sealed for %s", person)
	}
	ct, err := base64.RawStdEncoding.DecodeString(rest)
	aead, _ := personalCiphers(key)
	if err != nil || len(ct) < aead.NonceSize()+aead.Overhead() {
		return nil, fmt.Errorf("sealed personal data of %s: not base64 of a sealed value", person)
	}
	plain, err := aead.Open(nil, ct[:aead.NonceSize()], ct[aead.NonceSize():], []byte(person))
	if err != nil {
		return nil, fmt.Errorf("sealed personal data of %s: %w", person, ErrWrongKey)
	}
	return plain, nil
}

// personalCiphers returns the AEAD and the nonce key derived from a data
// key.
func personalCiphers(key [32]byte) (cipher.AEAD, []byte) {
	derive := func(label string) []byte {
		m := hmac.New(sha256.New, key[:])
		m.Write([]byte(label))
		return m.Sum(nil)
	}
	block, err := aes.NewCipher(derive("ledger personal data encryption"))
	if err != nil {
		panic(err) // a 32-byte key always makes a cipher
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return aead, derive("ledger personal data nonce")
}
