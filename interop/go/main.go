// Command sealpost-tlog-verify checks a sealpost audit log's checkpoint and proofs with Go's
// golang.org/x/mod/sumdb/note and golang.org/x/mod/sumdb/tlog: an implementation of C2SP signed
// notes and RFC 6962 Merkle trees that is not sealpost's own (docs/AUDIT.md).
//
// Usage:
//
//	sealpost-tlog-verify -vkey <verifier key> [-origin <origin>] < bundle.json
//
// The bundle (what `sealpost audit prove --json` prints) is a JSON object:
//
//	{
//	  "checkpoint":  "<signed checkpoint note>",
//	  "inclusion":   {"index": N, "entry": "<base64 entry bytes>", "proof": ["<base64 hash>", ...]},
//	  "consistency": {"oldCheckpoint": "<signed checkpoint note>", "proof": ["<base64 hash>", ...]}
//	}
//
// "inclusion" and "consistency" are optional. Standard input may hold several bundles one after the
// other; each is checked. Every note must be signed by the -vkey key. Exit status 0 means everything
// given verified; anything else prints why and exits 1.
package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type bundle struct {
	Checkpoint string `json:"checkpoint"`
	Inclusion  *struct {
		Index int64    `json:"index"`
		Entry string   `json:"entry"`
		Proof []string `json:"proof"`
	} `json:"inclusion"`
	Consistency *struct {
		OldCheckpoint string   `json:"oldCheckpoint"`
		Proof         []string `json:"proof"`
	} `json:"consistency"`
}

type checkpoint struct {
	origin string
	size   int64
	root   tlog.Hash
}

func main() {
	vkey := flag.String("vkey", "", "verifier key of the log: <name>+<hex key id>+<base64 key>")
	origin := flag.String("origin", "", "expected origin line (default: the verifier key's name)")
	flag.Parse()
	if err := run(*vkey, *origin, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.Exit(1)
	}
}

func run(vkey, origin string, in io.Reader, out io.Writer) error {
	if vkey == "" {
		return errors.New("-vkey is required")
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return fmt.Errorf("verifier key: %w", err)
	}
	if origin == "" {
		origin = verifier.Name()
	}
	verifiers := note.VerifierList(verifier)
	dec := json.NewDecoder(in)
	dec.DisallowUnknownFields()
	count := 0
	for {
		var b bundle
		err := dec.Decode(&b)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("bundle %d: %w", count, err)
		}
		if err := check(b, verifiers, origin, out); err != nil {
			return fmt.Errorf("bundle %d: %w", count, err)
		}
		count++
	}
	if count == 0 {
		return errors.New("no bundle on standard input")
	}
	return nil
}

func check(b bundle, verifiers note.Verifiers, origin string, out io.Writer) error {

	head, err := openCheckpoint(b.Checkpoint, verifiers, origin)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	fmt.Fprintf(out, "checkpoint OK: %s size %d root %s\n", head.origin, head.size, head.root)

	if inc := b.Inclusion; inc != nil {
		entry, err := base64.StdEncoding.Strict().DecodeString(inc.Entry)
		if err != nil {
			return fmt.Errorf("inclusion entry: %w", err)
		}
		proof, err := hashes(inc.Proof)
		if err != nil {
			return fmt.Errorf("inclusion proof: %w", err)
		}
		if err := tlog.CheckRecord(tlog.RecordProof(proof), head.size, head.root, inc.Index, tlog.RecordHash(entry)); err != nil {
			return fmt.Errorf("inclusion of entry %d: %w", inc.Index, err)
		}
		fmt.Fprintf(out, "inclusion OK: entry %d is in the tree of size %d\n", inc.Index, head.size)
	}

	if con := b.Consistency; con != nil {
		old, err := openCheckpoint(con.OldCheckpoint, verifiers, origin)
		if err != nil {
			return fmt.Errorf("old checkpoint: %w", err)
		}
		proof, err := hashes(con.Proof)
		if err != nil {
			return fmt.Errorf("consistency proof: %w", err)
		}
		switch {
		case old.size > head.size:
			return fmt.Errorf("old checkpoint size %d is larger than %d", old.size, head.size)
		case old.size == 0:
			// The empty tree is a prefix of every tree; tlog.CheckTree takes sizes from 1.
			if len(proof) != 0 {
				return errors.New("consistency proof from the empty tree must be empty")
			}
		default:
			if err := tlog.CheckTree(tlog.TreeProof(proof), head.size, head.root, old.size, old.root); err != nil {
				return fmt.Errorf("consistency %d -> %d: %w", old.size, head.size, err)
			}
		}
		fmt.Fprintf(out, "consistency OK: size %d extends size %d\n", head.size, old.size)
	}
	return nil
}

// openCheckpoint verifies the note's signature and parses its text as a C2SP tlog-checkpoint.
func openCheckpoint(msg string, verifiers note.Verifiers, origin string) (checkpoint, error) {
	n, err := note.Open([]byte(msg), verifiers)
	if err != nil {
		return checkpoint{}, err
	}
	lines := strings.Split(strings.TrimSuffix(n.Text, "\n"), "\n")
	if len(lines) < 3 {
		return checkpoint{}, errors.New("not a checkpoint: fewer than three lines")
	}
	for _, l := range lines {
		if l == "" {
			return checkpoint{}, errors.New("not a checkpoint: empty line")
		}
	}
	if lines[0] != origin {
		return checkpoint{}, fmt.Errorf("origin %q, want %q", lines[0], origin)
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != lines[1] {
		return checkpoint{}, fmt.Errorf("not a checkpoint: tree size %q", lines[1])
	}
	root, err := hashFromBase64(lines[2])
	if err != nil {
		return checkpoint{}, fmt.Errorf("not a checkpoint: root hash: %w", err)
	}
	return checkpoint{origin: lines[0], size: size, root: root}, nil
}

func hashes(list []string) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(list))
	for i, s := range list {
		h, err := hashFromBase64(s)
		if err != nil {
			return nil, fmt.Errorf("hash %d: %w", i, err)
		}
		out[i] = h
	}
	return out, nil
}

func hashFromBase64(s string) (tlog.Hash, error) {
	var h tlog.Hash
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return h, err
	}
	if len(b) != tlog.HashSize {
		return h, fmt.Errorf("%d bytes, want %d", len(b), tlog.HashSize)
	}
	copy(h[:], b)
	return h, nil
}
