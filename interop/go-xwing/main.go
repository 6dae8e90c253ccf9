// Command sealpost-xwing-slot opens and seals sealpost suite-2 slots (docs/SPEC.md §2.2) with an
// X-Wing that is not sealpost's: draft-connolly-cfrg-xwing-kem assembled here from Go's own
// crypto/mlkem (ML-KEM-768), crypto/ecdh (X25519) and crypto/sha3, with golang.org/x/crypto's
// BLAKE2b and XChaCha20-Poly1305 for sealpost's wrap. It reads one JSON request per line on standard
// input and writes one JSON answer per line:
//
//	{"op":"kid","publicKey":"<hex 1216>"}                          → {"kid":"<hex 16>"}
//	{"op":"publicKey","seed":"<hex 32>"}                           → {"publicKey":"<hex 1216>"}
//	{"op":"open","seed":"<hex>","kid":"<hex>","sessionId":"<hex>","box":"<hex 1216>"}
//	                                                              → {"plaintext":"<hex 80>"} or {"error":"BOX_OPEN_FAILED"}
//	{"op":"seal","publicKey":"<hex>","kid":"<hex>","sessionId":"<hex>","plaintext":"<hex 80>"}
//	                                                              → {"box":"<hex 1216>"}
//
// Hex is lowercase. Every failure of "open" is the one answer BOX_OPEN_FAILED, as in sealpost.
package main

import (
	"bufio"
	"crypto/ecdh"
	"crypto/mlkem"
	"crypto/rand"
	"crypto/sha3"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"golang.org/x/crypto/blake2b"
	"golang.org/x/crypto/chacha20poly1305"
)

const (
	mlkemPublicKeyBytes  = 1184
	mlkemCiphertextBytes = 1088
	publicKeyBytes       = 1216
	ciphertextBytes      = 1120
	boxBytes             = 1216
	plaintextBytes       = 80
	suite                = 2
)

var xwingLabel = []byte(`\.//^\`)

// label is sealpost's L(x): "sealpost/v1/" ‖ x ‖ 0x00 (docs/SPEC.md §1).
func label(x string) []byte { return append([]byte("sealpost/v1/"+x), 0) }

type keys struct {
	dk  *mlkem.DecapsulationKey768
	skX *ecdh.PrivateKey
	pk  []byte
}

// expand is the draft's expandDecapsulationKey: SHAKE256(seed, 96) = d ‖ z ‖ skX.
func expand(seed []byte) (*keys, error) {
	if len(seed) != 32 {
		return nil, errors.New("seed size")
	}
	h := sha3.NewSHAKE256()
	h.Write(seed)
	out := make([]byte, 96)
	h.Read(out)
	dk, err := mlkem.NewDecapsulationKey768(out[:64])
	if err != nil {
		return nil, err
	}
	skX, err := ecdh.X25519().NewPrivateKey(out[64:])
	if err != nil {
		return nil, err
	}
	pk := append(dk.EncapsulationKey().Bytes(), skX.PublicKey().Bytes()...)
	return &keys{dk, skX, pk}, nil
}

func combiner(ssM, ssX, ctX, pkX []byte) []byte {
	in := append(append(append(append(append([]byte{}, ssM...), ssX...), ctX...), pkX...), xwingLabel...)
	s := sha3.Sum256(in)
	return s[:]
}

func decapsulate(k *keys, ct []byte) ([]byte, error) {
	if len(ct) != ciphertextBytes {
		return nil, errors.New("ciphertext size")
	}
	ssM, err := k.dk.Decapsulate(ct[:mlkemCiphertextBytes])
	if err != nil {
		return nil, err
	}
	ctX, err := ecdh.X25519().NewPublicKey(ct[mlkemCiphertextBytes:])
	if err != nil {
		return nil, err
	}
	ssX, err := k.skX.ECDH(ctX) // refuses an all-zero (low-order) result
	if err != nil {
		return nil, err
	}
	return combiner(ssM, ssX, ct[mlkemCiphertextBytes:], k.pk[mlkemPublicKeyBytes:]), nil
}

func encapsulate(pk []byte) (ss, ct []byte, err error) {
	if len(pk) != publicKeyBytes {
		return nil, nil, errors.New("public key size")
	}
	ek, err := mlkem.NewEncapsulationKey768(pk[:mlkemPublicKeyBytes])
	if err != nil {
		return nil, nil, err
	}
	pkX, err := ecdh.X25519().NewPublicKey(pk[mlkemPublicKeyBytes:])
	if err != nil {
		return nil, nil, err
	}
	ekX, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	ssX, err := ekX.ECDH(pkX)
	if err != nil {
		return nil, nil, err
	}
	ssM, ctM := ek.Encapsulate()
	ctX := ekX.PublicKey().Bytes()
	return combiner(ssM, ssX, ctX, pk[mlkemPublicKeyBytes:]), append(ctM, ctX...), nil
}

// wrapKey = BLAKE2b-256(key = ss, L(xwing-slot) ‖ u8 2 ‖ sessionId ‖ kid) (docs/SPEC.md §2.2).
func wrapKey(ss, sessionID, kid []byte) []byte {
	h, _ := blake2b.New256(ss)
	h.Write(label("xwing-slot"))
	h.Write([]byte{suite})
	h.Write(sessionID)
	h.Write(kid)
	return h.Sum(nil)
}

// kid(xwing, pk) = BLAKE2b-128(L(kid) ‖ u8 5 ‖ "xwing" ‖ pk) (docs/SPEC.md §1).
func kidOf(pk []byte) []byte {
	h, _ := blake2b.New(16, nil)
	h.Write(label("kid"))
	h.Write([]byte{5})
	h.Write([]byte("xwing"))
	h.Write(pk)
	return h.Sum(nil)
}

func open(seed, kid, sessionID, box []byte) ([]byte, error) {
	if len(box) != boxBytes || len(sessionID) != 16 || len(kid) != 16 {
		return nil, errors.New("sizes")
	}
	k, err := expand(seed)
	if err != nil {
		return nil, err
	}
	ss, err := decapsulate(k, box[:ciphertextBytes])
	if err != nil {
		return nil, err
	}
	aead, err := chacha20poly1305.NewX(wrapKey(ss, sessionID, kid))
	if err != nil {
		return nil, err
	}
	return aead.Open(nil, make([]byte, 24), box[ciphertextBytes:], nil)
}

func seal(pk, kid, sessionID, plaintext []byte) ([]byte, error) {
	if len(plaintext) != plaintextBytes || len(sessionID) != 16 || len(kid) != 16 {
		return nil, errors.New("sizes")
	}
	ss, ct, err := encapsulate(pk)
	if err != nil {
		return nil, err
	}
	aead, err := chacha20poly1305.NewX(wrapKey(ss, sessionID, kid))
	if err != nil {
		return nil, err
	}
	return aead.Seal(ct, make([]byte, 24), plaintext, nil), nil
}

type request struct {
	Op        string `json:"op"`
	Seed      string `json:"seed"`
	PublicKey string `json:"publicKey"`
	Kid       string `json:"kid"`
	SessionID string `json:"sessionId"`
	Box       string `json:"box"`
	Plaintext string `json:"plaintext"`
}

func answer(r request) map[string]string {
	b := func(s string) []byte {
		v, err := hex.DecodeString(s)
		if err != nil {
			return nil
		}
		return v
	}
	switch r.Op {
	case "kid":
		return map[string]string{"kid": hex.EncodeToString(kidOf(b(r.PublicKey)))}
	case "publicKey":
		k, err := expand(b(r.Seed))
		if err != nil {
			return map[string]string{"error": err.Error()}
		}
		return map[string]string{"publicKey": hex.EncodeToString(k.pk)}
	case "open":
		p, err := open(b(r.Seed), b(r.Kid), b(r.SessionID), b(r.Box))
		if err != nil {
			return map[string]string{"error": "BOX_OPEN_FAILED"}
		}
		return map[string]string{"plaintext": hex.EncodeToString(p)}
	case "seal":
		box, err := seal(b(r.PublicKey), b(r.Kid), b(r.SessionID), b(r.Plaintext))
		if err != nil {
			return map[string]string{"error": err.Error()}
		}
		return map[string]string{"box": hex.EncodeToString(box)}
	}
	return map[string]string{"error": "unknown op"}
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	out := json.NewEncoder(os.Stdout)
	for in.Scan() {
		var r request
		if err := json.Unmarshal(in.Bytes(), &r); err != nil {
			fmt.Fprintln(os.Stderr, "bad request:", err)
			os.Exit(1)
		}
		if err := out.Encode(answer(r)); err != nil {
			os.Exit(1)
		}
	}
}
