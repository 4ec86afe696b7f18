// Package vault seals sensitive numbers (bank account numbers) with
// AES-256-GCM before they reach the ledger's events, and opens them only
// where they must leave in clear: the bank payment file.
package vault

import (
	"crypto/aes"
	"crypto/cipher"
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
		return nil, errors.New("account key: want 64 hex characters (32 bytes), e.g. from `openssl rand -hex 32`")
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
