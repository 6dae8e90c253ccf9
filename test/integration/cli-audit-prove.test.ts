/**
 * `sealpost audit vkey`, `audit prove` and `audit verify` against C2SP checkpoint notes published on
 * a real checkpoint topic (docs/AUDIT.md): the bundles `prove` prints verify with the Go verifier
 * (interop/go: Go's sumdb/note and sumdb/tlog), and `verify` refuses a fork signed by the audit key.
 * The notes are signed here with the fixture's audit key exactly as the audit worker signs them
 * (AuditTlog over the same store).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditTlog, auditLeafHashes, defaultAuditOrigin } from '../../src/audit/audit-tlog.js';
import { leafHash, leafHashArray, treeRoot } from '../../src/audit/merkle-tree.js';
import { ed25519NoteSigner } from '../../src/audit/signed-note.js';
import { SqliteAuditStore } from '../../src/audit/sqlite-audit-store.js';
import { signCheckpoint } from '../../src/audit/tlog-checkpoint.js';
import { createCryptoProvider } from '../../src/crypto/index.js';
import type { CryptoProvider } from '../../src/crypto/provider.js';
import { LocalKms } from '../../src/keys/kms/local-kms.js';
import { openIdentity } from '../../src/keys/operations.js';
import { systemClock } from '../../src/runtime/clock.js';
import { getEndpoints } from '../support/endpoints.js';
import { createTopics, freshTopic, testTransport } from '../support/test-transport.js';
import { buildGoVerifier, type GoVerifier } from '../support/tlog-go-verifier.js';
import { makeAuditFixture, type AuditFixture } from '../support/audit-log-fixture.js';
import { runCli } from '../support/run-cli.js';

const transport = testTransport('cli-audit-prove-it');
const checkpointTopic = freshTopic('cli-audit-tlog');
const forkTopic = freshTopic('cli-audit-tlog-fork');
const origin = defaultAuditOrigin('sealpost.metadata');
let dir: string;
let fx: AuditFixture;
let env: Record<string, string>;
let crypto: CryptoProvider;
let go: GoVerifier | undefined;
let notes: string[] = [];
let fork: string;

async function publish(topic: string, values: readonly string[]): Promise<void> {
  const producer = transport.producer();
  await producer.connect();
  try {
    await producer.send({
      topic,
      partition: 0,
      records: values.map((v) => ({ key: Buffer.from(origin), value: Buffer.from(v) })),
    });
  } finally {
    await producer.disconnect();
  }
}

/** Signs notes at `sizes` with the fixture's audit key, as the worker does; and a fork at 400. */
async function signNotes(sizes: readonly number[]): Promise<{ notes: string[]; fork: string }> {
  const kms = await LocalKms.open({
    path: env.SEALPOST_LOCAL_KEK_FILE!,
    crypto,
    clock: systemClock,
  });
  const id = await openIdentity({ path: join(dir, 'keys', 'audit.json'), kms, crypto });
  const store = new SqliteAuditStore(env.SEALPOST_AUDIT_DB!, crypto);
  try {
    const signer = ed25519NoteSigner(crypto, origin, id.signingKey().secretKey);
    const tlog = new AuditTlog({ crypto, entries: (from) => store.entries(from), origin, signer });
    const signed: string[] = [];
    for (const size of sizes) signed.push(await tlog.checkpointAt(size));
    const leaves = await auditLeafHashes(crypto, store.entries());
    leaves[150] = leafHash(crypto, new TextEncoder().encode('{"forged":true}'));
    const forkNote = signCheckpoint(
      { origin, size: 400, rootHash: treeRoot(crypto, leafHashArray(leaves), 400), extensions: [] },
      [signer],
    );
    return { notes: signed, fork: forkNote };
  } finally {
    await store.close();
    id.close();
    await kms.close();
  }
}

beforeAll(async () => {
  crypto = await createCryptoProvider();
  dir = await mkdtemp(join(tmpdir(), 'sealpost-cli-it-prove-'));
  fx = await makeAuditFixture(dir);
  await fx.grow(300);
  await fx.grow(200);
  env = {
    ...fx.env,
    KAFKA_BROKERS: getEndpoints().kafkaBrokers.join(','),
    SEALPOST_CHECKPOINT_TOPIC: checkpointTopic,
  };
  ({ notes, fork } = await signNotes([300, 500]));
  await createTopics(transport, [{ topic: checkpointTopic }, { topic: forkTopic }]);
  await publish(checkpointTopic, notes);
  await publish(forkTopic, [...notes, fork]);
  go = buildGoVerifier();
}, 180_000);

afterAll(async () => {
  go?.remove();
  const admin = transport.admin();
  await admin.connect();
  await admin.deleteTopics([checkpointTopic, forkTopic]).catch(() => undefined);
  await admin.disconnect();
  await rm(dir, { recursive: true, force: true });
});

describe('sealpost audit prove / vkey / verify with C2SP checkpoints (real Kafka, Go verifier)', () => {
  it('prove --index and --from/--to print bundles the Go verifier accepts', async () => {
    const vkey = await runCli(['audit', 'vkey'], env);
    expect(vkey.code, vkey.err).toBe(0);
    expect(vkey.out).toMatch(new RegExp(`^${origin.replaceAll('.', '\\.')}\\+[0-9a-f]{8}\\+`));
    const inclusion = await runCli(['audit', 'prove', '--index', '123'], env);
    expect(inclusion.code, inclusion.err).toBe(0);
    const consistency = await runCli(['audit', 'prove', '--from', '300', '--to', '500'], env);
    expect(consistency.code, consistency.err).toBe(0);
    const r = go!.run(vkey.out.trim(), inclusion.out + consistency.out);
    expect(r.out).toContain('inclusion OK: entry 123 is in the tree of size 500');
    expect(r.out).toContain('consistency OK: size 500 extends size 300');
    expect(r.status).toBe(0);
    // The entry the bundle proves is the stored one; another entry's bytes are refused.
    const bundle = JSON.parse(inclusion.out) as { inclusion: { entry: string } };
    bundle.inclusion.entry = Buffer.from('{"n":1}').toString('base64');
    expect(go!.run(vkey.out.trim(), JSON.stringify(bundle)).status).toBe(1);
  }, 120_000);

  it('prove refuses sizes that were not published (exit 2, naming the published ones)', async () => {
    const r = await runCli(['audit', 'prove', '--from', '100', '--to', '500'], env);
    expect(r.code).toBe(2);
    expect(r.err).toContain('published: 300, 500');
  }, 60_000);

  it('verify checks the consecutive published checkpoints, and refuses a signed fork', async () => {
    const good = await runCli(['audit', 'verify', '--json'], env);
    expect(good.code, good.err).toBe(0);
    expect(JSON.parse(good.out)).toMatchObject({
      ok: true,
      malformedPublished: [],
      tlogCheckpoints: { ok: true, checkpoints: 2, consistentPairs: 1 },
    });
    const forked = await runCli(['audit', 'verify'], {
      ...env,
      SEALPOST_CHECKPOINT_TOPIC: forkTopic,
    });
    expect(forked.code).toBe(1);
    expect(forked.out).toContain('C2SP checkpoints NOT OK: TLOG_CHECKPOINT_INCONSISTENT');
  }, 60_000);
});
