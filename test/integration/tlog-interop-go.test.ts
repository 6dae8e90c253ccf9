/**
 * A verifier that is not ours (docs/AUDIT.md): interop/go, built here with the machine's Go and
 * golang.org/x/mod/sumdb/{note,tlog} from the Go module proxy, checks sealpost's C2SP checkpoints,
 * RFC 6962 inclusion proofs and consistency proofs. Every proof of every small tree must verify there
 * (tlog's hashing is RFC 6962: this is the independent check of src/audit/merkle-tree.ts); every
 * tampered checkpoint or proof must be refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCryptoProvider } from '../../src/crypto/index.js';
import type { CryptoProvider, KeyPair } from '../../src/crypto/provider.js';
import {
  consistencyProof,
  inclusionProof,
  leafHash,
  leafHashArray,
  treeRoot,
} from '../../src/audit/merkle-tree.js';
import {
  ed25519NoteSigner,
  formatVerifierKey,
  type NoteSigner,
} from '../../src/audit/signed-note.js';
import { signCheckpoint } from '../../src/audit/tlog-checkpoint.js';
import { buildGoVerifier, type GoVerifier } from '../support/tlog-go-verifier.js';
const ORIGIN = 'sealpost.test/audit/interop';

interface Bundle {
  checkpoint: string;
  inclusion?: { index: number; entry: string; proof: string[] };
  consistency?: { oldCheckpoint: string; proof: string[] };
}

let crypto: CryptoProvider;
let keys: KeyPair;
let signer: NoteSigner;
let vkey: string;
let go: GoVerifier | undefined;

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');

function entriesOf(n: number, salt = ''): Uint8Array[] {
  return Array.from({ length: n }, (_, i) => new TextEncoder().encode(`{"n":${i}${salt}}`));
}

/** A log of `entries`: its signed checkpoint at `size` and its proofs. */
function logOf(entries: Uint8Array[], sign: NoteSigner = signer) {
  const leaves = leafHashArray(entries.map((e) => leafHash(crypto, e)));
  const checkpointAt = (size: number): string =>
    signCheckpoint(
      { origin: ORIGIN, size, rootHash: treeRoot(crypto, leaves, size), extensions: [] },
      [sign],
    );
  return {
    checkpointAt,
    inclusion: (index: number, size: number): Bundle => ({
      checkpoint: checkpointAt(size),
      inclusion: {
        index,
        entry: b64(entries[index]!),
        proof: inclusionProof(crypto, leaves, index, size).map(b64),
      },
    }),
    consistency: (oldSize: number, size: number): Bundle => ({
      checkpoint: checkpointAt(size),
      consistency: {
        oldCheckpoint: checkpointAt(oldSize),
        proof: consistencyProof(crypto, leaves, oldSize, size).map(b64),
      },
    }),
  };
}

function runVerifier(bundles: Bundle[], key = vkey): { status: number | null; out: string } {
  return go!.run(key, bundles.map((b) => JSON.stringify(b)).join('\n'));
}

beforeAll(async () => {
  crypto = await createCryptoProvider();
  keys = crypto.signKeyPair();
  signer = ed25519NoteSigner(crypto, ORIGIN, keys.secretKey);
  vkey = formatVerifierKey(crypto, ORIGIN, keys.publicKey);
  go = buildGoVerifier();
});

afterAll(() => {
  crypto.memzero(keys.secretKey);
  go?.remove();
});

describe('Go sumdb/note + sumdb/tlog verify what sealpost writes', () => {
  it('every inclusion proof and every consistency proof of every tree up to 17 entries', () => {
    const bundles: Bundle[] = [];
    const log = logOf(entriesOf(17));
    for (let size = 1; size <= 17; size++) {
      for (let index = 0; index < size; index++) bundles.push(log.inclusion(index, size));
      for (let oldSize = 0; oldSize <= size; oldSize++)
        bundles.push(log.consistency(oldSize, size));
    }
    const { status, out } = runVerifier(bundles);
    expect(out).not.toContain('FAIL');
    expect(status).toBe(0);
    const inclusionOk = out.split('\n').filter((l) => l.startsWith('inclusion OK')).length;
    const consistencyOk = out.split('\n').filter((l) => l.startsWith('consistency OK')).length;
    expect(inclusionOk).toBe((17 * 18) / 2);
    expect(consistencyOk).toBe((17 * 18) / 2 + 17);
  });

  it('the RFC 6962 test tree (the known answers of the unit test) verifies there too', () => {
    const ct = [
      '',
      '00',
      '10',
      '2021',
      '3031',
      '40414243',
      '5051525354555657',
      '606162636465666768696a6b6c6d6e6f',
    ];
    const log = logOf(ct.map((h) => new Uint8Array(Buffer.from(h, 'hex'))));
    const bundles = [0, 3, 5, 7].map((i) => log.inclusion(i, 8));
    bundles.push(log.consistency(3, 8), log.consistency(6, 8));
    const { status, out } = runVerifier(bundles);
    expect(out).toContain(
      `root ${Buffer.from('5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328', 'hex').toString('base64')}`,
    );
    expect(status).toBe(0);
  });
});

describe('Go refuses what was tampered with', () => {
  const flip = (s: string): string => {
    const b = Buffer.from(s, 'base64');
    b[0]! ^= 1;
    return b.toString('base64');
  };

  it('an edited entry, a flipped proof hash, another index', () => {
    const log = logOf(entriesOf(11));
    const good = log.inclusion(4, 11);
    const cases: Bundle[] = [
      {
        ...good,
        inclusion: { ...good.inclusion!, entry: b64(new TextEncoder().encode('{"n":5}')) },
      },
      {
        ...good,
        inclusion: {
          ...good.inclusion!,
          proof: [flip(good.inclusion!.proof[0]!), ...good.inclusion!.proof.slice(1)],
        },
      },
      { ...good, inclusion: { ...good.inclusion!, index: 5 } },
    ];
    for (const bundle of cases) {
      const { status, out } = runVerifier([bundle]);
      expect(status).toBe(1);
      expect(out).toContain('FAIL: bundle 0: inclusion of entry');
    }
    expect(runVerifier([good]).status).toBe(0);
  });

  it('a checkpoint edited after signing, or signed by another key under the same name', () => {
    const log = logOf(entriesOf(9));
    const note = log.checkpointAt(9);
    const edited = note.replace(`${ORIGIN}\n9\n`, `${ORIGIN}\n8\n`);
    expect(edited).not.toBe(note);
    const other = crypto.signKeyPair();
    const impostor = logOf(entriesOf(9), ed25519NoteSigner(crypto, ORIGIN, other.secretKey));
    for (const checkpoint of [edited, impostor.checkpointAt(9)]) {
      const { status, out } = runVerifier([{ checkpoint }]);
      expect(status).toBe(1);
      expect(out).toContain('FAIL: bundle 0: checkpoint:');
    }
    crypto.memzero(other.secretKey);
    // And a verifier key whose key ID does not match its name and key is no key at all.
    const [name, , material] = vkey.split('+');
    const { status, out } = runVerifier([{ checkpoint: note }], `${name}+00000000+${material}`);
    expect(status).toBe(1);
    expect(out).toContain('verifier key');
  });

  it('a fork (same key, a different entry 2) is not consistent; nor is a flipped proof hash', () => {
    const log = logOf(entriesOf(12));
    const fork = logOf(
      entriesOf(12).map((e, i) => (i === 2 ? new TextEncoder().encode('{"n":"x"}') : e)),
    );
    const good = log.consistency(5, 12);
    const forked: Bundle = {
      checkpoint: good.checkpoint,
      consistency: { oldCheckpoint: fork.checkpointAt(5), proof: good.consistency!.proof },
    };
    const flipped: Bundle = {
      checkpoint: good.checkpoint,
      consistency: {
        oldCheckpoint: good.consistency!.oldCheckpoint,
        proof: [
          good.consistency!.proof[0]!,
          flip(good.consistency!.proof[1]!),
          ...good.consistency!.proof.slice(2),
        ],
      },
    };
    for (const bundle of [forked, flipped]) {
      const { status, out } = runVerifier([bundle]);
      expect(status).toBe(1);
      expect(out).toContain('FAIL: bundle 0: consistency 5 -> 12');
    }
    expect(runVerifier([good]).status).toBe(0);
  });
});
