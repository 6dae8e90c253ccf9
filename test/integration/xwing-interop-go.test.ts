/**
 * Suite-2 slots (docs/SPEC.md §2.2) against an X-Wing that is not sealpost's: interop/go-xwing,
 * built here with the machine's Go — X-Wing assembled from Go's crypto/mlkem, crypto/ecdh and
 * crypto/sha3, sealpost's wrap with golang.org/x/crypto's BLAKE2b and XChaCha20-Poly1305 (from the
 * Go module proxy, pinned by go.sum). Both ways, both providers: Go derives the same X-Wing public
 * keys and kids, opens the slots sealpost seals, and seals slots that sealpost opens inside a full
 * record; tampered slots fail in Go as in sealpost; the golden suite-2 vector opens in Go.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCryptoProvider } from '../../src/crypto/index.js';
import type { CryptoProvider, CryptoProviderName } from '../../src/crypto/provider.js';
import {
  decodeEnvelope,
  type DecodedEnvelope,
  encodeEnvelope,
  kid,
} from '../../src/envelope/index.js';
import { MessageTranscripts } from '../../src/envelope/message-transcripts.js';
import {
  craftMessage,
  KDF_ID_MESSAGE_KEY,
  kdf,
  openXWingBox,
  readPrivate,
  resignHeader,
  sessionHashOf,
} from '../unit/envelope/support/forge.js';
import { parseVector } from '../unit/envelope/support/vector-file.js';
import {
  makeWorld,
  SCHEMA_FP,
  SCHEMA_ID_SUITE2,
  TOPIC,
  type World,
} from '../unit/envelope/support/world.js';

const GO_DIR = resolve(import.meta.dirname, '../../interop/go-xwing');
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const bytes = (h: string) => Uint8Array.from(Buffer.from(h, 'hex'));

let dir = '';
let binary = '';

/** Runs the Go command on a batch of requests (one JSON per line) and returns its answers. */
function go(requests: readonly Record<string, string>[]): Record<string, string>[] {
  const res = spawnSync(binary, [], {
    input: requests.map((r) => JSON.stringify(r)).join('\n') + '\n',
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (res.status !== 0) throw new Error(`go-xwing failed (${String(res.status)}): ${res.stderr}`);
  return res.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, string>);
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sealpost-xwing-go-'));
  binary = join(dir, 'sealpost-xwing-slot');
  const goBin =
    process.env.GO ?? (existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : 'go');
  const build = spawnSync(goBin, ['build', '-o', binary, '.'], {
    cwd: GO_DIR,
    env: { ...process.env, GOFLAGS: [process.env.GOFLAGS ?? '', '-mod=mod'].join(' ').trim() },
    encoding: 'utf8',
    timeout: 170_000,
  });
  if (build.status !== 0)
    throw new Error(
      `go build in interop/go-xwing failed (${String(build.status)}): ${build.stderr}`,
    );
}, 180_000);

afterAll(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

/** One suite-2 record alice seals to `to` (partition 0, seq 0, no key), decoded. */
function sealedByAlice(w: World, to: string[], payload: Uint8Array): DecodedEnvelope {
  const s = w.session('alice', to, { suite: 2 });
  const v = s.seal({
    partition: 0,
    seq: 0,
    key: null,
    schemaFp: SCHEMA_FP,
    contentType: 'x',
    payload,
  }).value;
  s.close();
  return decodeEnvelope(v, w.limits);
}

describe.each(['sodium-native', 'libsodium-wrappers'] as CryptoProviderName[])(
  'suite-2 slots with Go X-Wing (%s)',
  (name) => {
    let p: CryptoProvider;
    beforeAll(async () => {
      p = await createCryptoProvider(name);
    });

    it('Go derives the same X-Wing public keys and kid(xwing, pk) from the same seeds', () => {
      const seeds = [0, 1, 2].map(() => p.randomBytes(32));
      const pks = seeds.map((s) => p.xwingKeyPairFromSeed(s).publicKey);
      const answers = go([
        ...seeds.map((s) => ({ op: 'publicKey', seed: hex(s) })),
        ...pks.map((pk) => ({ op: 'kid', publicKey: hex(pk) })),
      ]);
      expect(answers).toEqual([
        ...pks.map((pk) => ({ publicKey: hex(pk) })),
        ...pks.map((pk) => ({ kid: hex(kid(p, 'xwing', pk)) })),
      ]);
    });

    it('Go opens every slot sealpost seals (same seed, own MAC key, the sender kid), and refuses tampered ones as BOX_OPEN_FAILED', () => {
      const w = makeWorld(p, ['alice', 'bob', 'carol', 'dave']);
      const env = sealedByAlice(w, ['bob', 'carol', 'dave'], p.randomBytes(20));
      const slots = env.header.kids.map((k) => {
        const name = ['bob', 'carol', 'dave'].find((n) => hex(w.id(n).xwingKid) === hex(k))!;
        return { name, kid: k, box: env.header.boxes[env.header.kids.indexOf(k)]! };
      });
      const opened = go(
        slots.map((sl) => ({
          op: 'open',
          seed: hex(w.id(sl.name).xwing.secretKey),
          kid: hex(sl.kid),
          sessionId: hex(env.header.sessionId),
          box: hex(sl.box),
        })),
      ).map((a) => bytes(a.plaintext ?? ''));
      expect(opened.map((o) => o.length)).toEqual([80, 80, 80]);
      // The same seed in every slot, a MAC key of its own, alice's signing kid.
      expect(new Set(opened.map((o) => hex(o.subarray(0, 32)))).size).toBe(1);
      expect(new Set(opened.map((o) => hex(o.subarray(32, 64)))).size).toBe(3);
      expect(opened.map((o) => hex(o.subarray(64)))).toEqual(
        opened.map(() => hex(w.id('alice').signKid)),
      );
      // What sealpost's own tooling reads from bob's slot is what Go read.
      const bobSlot = slots.findIndex((sl) => sl.name === 'bob');
      const ours = openXWingBox(p, env.header, bobSlot, w.id('bob').xwing.secretKey);
      expect(hex(opened[bobSlot]!)).toBe(
        hex(Uint8Array.of(...ours.seed, ...ours.macKey, ...ours.senderKid)),
      );

      const bob = slots[bobSlot]!;
      const base = {
        op: 'open',
        seed: hex(w.id('bob').xwing.secretKey),
        kid: hex(bob.kid),
        sessionId: hex(env.header.sessionId),
      };
      const flip = (b: Uint8Array, at: number) => {
        const m = b.slice();
        m[at]! ^= 1;
        return hex(m);
      };
      expect(
        go([
          { ...base, box: flip(bob.box, 10) }, // ML-KEM ciphertext: implicit rejection
          { ...base, box: flip(bob.box, 1100) }, // X25519 part
          { ...base, box: flip(bob.box, 1200) }, // wrapped part
          { ...base, box: hex(bob.box), sessionId: hex(new Uint8Array(16)) }, // another session
          { ...base, box: hex(bob.box), kid: hex(w.id('carol').xwingKid) }, // another recipient
        ]),
      ).toEqual(Array.from({ length: 5 }, () => ({ error: 'BOX_OPEN_FAILED' })));
    });

    it('sealpost opens a record whose slot Go sealed (the sender signs and tags over it)', () => {
      const w = makeWorld(p, ['alice', 'bob']);
      const env = sealedByAlice(w, ['bob'], Uint8Array.of(4, 2));
      const bob = w.id('bob');
      const alice = w.id('alice');
      const plain = openXWingBox(p, env.header, 0, bob.xwing.secretKey);
      const [sealed] = go([
        {
          op: 'seal',
          publicKey: hex(bob.xwing.publicKey),
          kid: hex(bob.xwingKid),
          sessionId: hex(env.header.sessionId),
          plaintext: hex(Uint8Array.of(...plain.seed, ...plain.macKey, ...plain.senderKid)),
        },
      ]);
      const goBox = bytes(sealed!.box ?? '');
      expect(goBox.length).toBe(1216);
      expect(hex(goBox)).not.toBe(hex(env.header.boxes[0]!));
      const { priv } = readPrivate(p, env.header, plain.seed);
      const resigned = resignHeader(
        p,
        { ...env.header, boxes: [goBox] },
        { seed: plain.seed, senderKid: alice.signKid, signSecretKey: alice.sign.secretKey, priv },
      );
      // The new slot changes the session hash, which the message's aad and tag cover: the sender
      // re-encrypts the same padded body under it.
      const kMsg = kdf(p, plain.seed, KDF_ID_MESSAGE_KEY);
      const old = new MessageTranscripts(p, sessionHashOf(p, env.header, plain));
      old.setContext(0, 0, null);
      const padded = new Uint8Array(env.ct.length - 16);
      expect(p.aeadDecrypt(padded, env.ct, old.aad(), env.nonce, kMsg)).toBe(true);
      const msg = craftMessage(
        p,
        { sessionHash: resigned.sessionHash, kMsg, kids: env.header.kids },
        new Map([[0, plain.macKey]]),
        { partition: 0, seq: 0, key: null },
        padded,
        env.tags,
      );
      const record = encodeEnvelope(SCHEMA_ID_SUITE2, {
        header: resigned.header,
        seq: 0,
        nonce: msg.nonce,
        ct: msg.ct,
        tags: msg.tags,
      });
      const o = w.opener('bob');
      const r = o.open(record, { topic: TOPIC, partition: 0, key: null });
      expect(r.kind === 'delivered' ? [...r.message.payload] : r.kind).toEqual([4, 2]);
      o.close();
    });

    it('Go opens the golden suite-2 vector (test/vectors/xwing-golden-basic.vector)', () => {
      const file = resolve(import.meta.dirname, '../vectors/xwing-golden-basic.vector');
      const vec = parseVector('xwing-golden-basic', readFileSync(file, 'utf8'));
      const env = decodeEnvelope(vec.envelope, {
        envelopeSchemaId: vec.schemaId,
        suite2EnvelopeSchemaId: vec.suite2SchemaId!,
        namespace: vec.namespace,
        maxCiphertextBytes: 1 << 20,
      });
      const [a] = go([
        {
          op: 'open',
          seed: hex(vec.recipientSecretKey),
          kid: hex(env.header.kids[0]!),
          sessionId: hex(env.header.sessionId),
          box: hex(env.header.boxes[0]!),
        },
      ]);
      expect(bytes(a!.plaintext ?? '').subarray(64)).toEqual(
        kid(p, 'ed25519', vec.senderSigningPublicKey),
      );
    });
  },
);
