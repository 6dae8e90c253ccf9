import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { toHex } from '../../../src/keys/bytes.js';
import {
  FileDirectorySource,
  writeDirectoryDocument,
} from '../../../src/keys/directory/directory-document.js';
import {
  DirectorySenderResolver,
  usableOpeningKeys,
} from '../../../src/keys/directory/directory-sender-resolver.js';
import { signDirectory } from '../../../src/keys/directory/directory-signer.js';
import type { DirectoryRecordDraft } from '../../../src/keys/directory/directory-signer.js';
import { KeyDirectory } from '../../../src/keys/directory/key-directory.js';
import {
  loadIdentity,
  publicGenerations,
  rotateIdentityFile,
} from '../../../src/keys/identity-file.js';
import { DirectoryPolicy, PolicyError } from '../../../src/keys/policy.js';
import type { PolicyErrorCode } from '../../../src/keys/policy.js';
import type { KeysWorld } from '../../support/keys/fixtures.js';
import { DAY_MS, draftFor, makeWorld } from '../../support/keys/fixtures.js';

const HOUR_MS = 3_600_000;
let w: KeysWorld;
let directory: KeyDirectory;
let policy: DirectoryPolicy;
let path: string;
let d: Record<'producer' | 'billing' | 'audit' | 'outsider', DirectoryRecordDraft>;

async function publish(changes: DirectoryRecordDraft[]): Promise<void> {
  const previous = (() => {
    try {
      return directory.snapshot();
    } catch {
      return undefined;
    }
  })();
  await writeDirectoryDocument(
    path,
    signDirectory({
      crypto: w.crypto,
      authority: w.authority,
      clock: w.clock,
      headTtlMs: HOUR_MS,
      changes,
      previous,
    }),
  );
}

beforeEach(async () => {
  w = await makeWorld();
  path = join(w.dir, 'directory.json');
  d = {
    producer: (await w.service('producer', ['orders'], [])).draft,
    billing: (await w.service('billing', [], ['orders'])).draft,
    audit: (await w.service('audit', [], ['orders*'])).draft,
    outsider: (await w.service('outsider', ['payments'], ['payments'])).draft,
  };
  await writeDirectoryDocument(
    path,
    signDirectory({
      crypto: w.crypto,
      authority: w.authority,
      clock: w.clock,
      headTtlMs: HOUR_MS,
      changes: Object.values(d),
    }),
  );
  directory = await KeyDirectory.open({
    crypto: w.crypto,
    authorityPublicKey: w.authority.signingKey().publicKey,
    source: new FileDirectorySource(path),
    clock: w.clock,
  });
  policy = new DirectoryPolicy(directory, { clock: w.clock, skewMs: 60_000 });
});
afterEach(async () => {
  await w.cleanup();
});

function code(fn: () => unknown): PolicyErrorCode {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PolicyError);
    return (err as PolicyError).code;
  }
  throw new Error('expected a PolicyError');
}

describe('DirectoryPolicy', () => {
  it('producer: may send only where allowed; seals only to identities allowed to receive, sorted by kid', () => {
    expect(() => policy.assertMaySend('producer', 'orders')).not.toThrow();
    expect(code(() => policy.assertMaySend('producer', 'payments'))).toBe(
      'POLICY_SENDER_NOT_ALLOWED',
    );
    expect(code(() => policy.assertMaySend('billing', 'orders'))).toBe('POLICY_SENDER_NOT_ALLOWED');
    expect(code(() => policy.assertMaySend('nobody', 'orders'))).toBe('POLICY_SENDER_UNKNOWN');

    const recipients = policy.allowedRecipients('orders');
    expect(recipients.map((r) => r.identity).sort()).toEqual(['audit', 'billing']);
    expect(recipients.map((r) => toHex(r.kid))).toEqual(recipients.map((r) => toHex(r.kid)).sort());
    expect(policy.allowedRecipients('orders-eu').map((r) => r.identity)).toEqual(['audit']);
    expect(policy.allowedRecipients('unknown-topic')).toEqual([]);

    expect(
      policy
        .recipientsFor('orders', ['billing', 'audit', 'billing'])
        .map((r) => r.identity)
        .sort(),
    ).toEqual(['audit', 'billing']);
    expect(code(() => policy.recipientsFor('orders', ['billing', 'outsider']))).toBe(
      'POLICY_RECIPIENT_NOT_ALLOWED',
    );
    expect(code(() => policy.recipientsFor('orders', ['ghost']))).toBe('POLICY_RECIPIENT_UNKNOWN');
  });

  it('consumer: checks the sender key for topic, status and time, and its own right to receive', () => {
    const now = w.clock.nowMs();
    expect(policy.checkSenderKey(d.producer.signKid, 'orders', now).identity).toBe('producer');
    expect(code(() => policy.checkSenderKey(d.producer.signKid, 'payments', now))).toBe(
      'POLICY_SENDER_NOT_ALLOWED',
    );
    expect(code(() => policy.checkSenderKey(d.billing.boxKid, 'orders', now))).toBe(
      'POLICY_SENDER_UNKNOWN',
    );
    expect(
      code(() => policy.checkSenderKey(d.producer.signKid, 'orders', d.producer.validFromMs - 1)),
    ).toBe('POLICY_SENDER_KEY_NOT_VALID_AT_TIME');
    expect(
      code(() => policy.checkSenderKey(d.producer.signKid, 'orders', d.producer.validUntilMs)),
    ).toBe('POLICY_SENDER_KEY_NOT_VALID_AT_TIME');
    expect(() => policy.assertMayReceive('billing', 'orders')).not.toThrow();
    expect(code(() => policy.assertMayReceive('outsider', 'orders'))).toBe(
      'POLICY_RECIPIENT_NOT_ALLOWED',
    );
    expect(code(() => policy.assertMayReceive('ghost', 'orders'))).toBe('POLICY_RECIPIENT_UNKNOWN');
  });

  it('rotation: the retiring key is no longer sealed to, still accepted until retiredAt + skew; revocation refuses at once', async () => {
    // billing rotates: new active key published, old one retiring.
    w.clock.advance(DAY_MS);
    const retiredAt = w.clock.nowMs();
    const newBilling = {
      ...draftFor((await w.service('billing', [], ['orders'])).file, [], ['orders'], retiredAt),
    };
    const newProducer = {
      ...draftFor((await w.service('producer', ['orders'], [])).file, ['orders'], [], retiredAt),
    };
    await publish([
      { ...d.billing, status: 'retiring', retiredAtMs: retiredAt },
      newBilling,
      { ...d.producer, status: 'retiring', retiredAtMs: retiredAt },
      newProducer,
    ]);
    await directory.refresh();
    const billingKeys = policy.allowedRecipients('orders').filter((r) => r.identity === 'billing');
    expect(billingKeys.map((r) => toHex(r.kid))).toEqual([toHex(newBilling.boxKid)]);
    // The old producer key: sessions created before retiredAt + skew are accepted, later ones not.
    expect(policy.checkSenderKey(d.producer.signKid, 'orders', retiredAt + 60_000).identity).toBe(
      'producer',
    );
    expect(
      code(() => policy.checkSenderKey(d.producer.signKid, 'orders', retiredAt + 60_001)),
    ).toBe('POLICY_SENDER_RETIRED');
    // Our old box key still opens (retiring), as the resolver reports.
    expect(policy.mayOpenWith(d.billing.boxKid)).toBe(true);

    await publish([{ ...newProducer, status: 'revoked', retiredAtMs: w.clock.nowMs() }]);
    await directory.refresh();
    expect(code(() => policy.checkSenderKey(newProducer.signKid, 'orders', w.clock.nowMs()))).toBe(
      'POLICY_SENDER_REVOKED',
    );
    expect(code(() => policy.assertMaySend('producer', 'orders'))).toBe('POLICY_SENDER_REVOKED');
  });

  it('the envelope SenderResolver adapter answers from the directory', () => {
    const resolver = new DirectorySenderResolver(directory);
    const s = resolver.resolveSender(d.producer.signKid, 'orders')!;
    expect(s).toMatchObject({
      identity: 'producer',
      status: 'active',
      maySendOnTopic: true,
      validFromMs: d.producer.validFromMs,
      validUntilMs: d.producer.validUntilMs - 1,
    });
    expect(s.signingPublicKey).toEqual(d.producer.signPublicKey);
    expect(s.retiredAtMs).toBeUndefined();
    expect(resolver.resolveSender(d.producer.signKid, 'payments')?.maySendOnTopic).toBe(false);
    expect(resolver.resolveSender(d.billing.boxKid, 'orders')).toBeUndefined();
    expect(resolver.mayReceive(d.billing.boxKid, 'orders')).toBe(true);
    expect(resolver.mayReceive(d.outsider.boxKid, 'orders')).toBe(false);
    expect(resolver.epoch()).toBe(1);
  });

  it('usableOpeningKeys: our active and retiring keys the directory lists, never a revoked one', async () => {
    const { file } = await w.service('opener', [], ['orders']);
    const rotated = await rotateIdentityFile(file, {
      crypto: w.crypto,
      kms: w.kms,
      clock: w.clock,
    });
    const [g2, g1] = publicGenerations(rotated);
    const rec = (
      g: NonNullable<typeof g1>,
      status: 'active' | 'retiring' | 'revoked',
    ): DirectoryRecordDraft => ({
      identity: 'opener',
      status,
      boxKid: g.boxKid,
      boxPublicKey: g.boxPublicKey,
      signKid: g.signKid,
      signPublicKey: g.signPublicKey,
      validFromMs: 0,
      validUntilMs: w.clock.nowMs() + DAY_MS,
      retiredAtMs: status === 'active' ? null : w.clock.nowMs(),
      sendTopics: [],
      receiveTopics: ['orders'],
    });
    const id = await loadIdentity(rotated, { crypto: w.crypto, kms: w.kms });
    await publish([rec(g2!, 'active'), rec(g1!, 'retiring')]);
    await directory.refresh();
    expect(usableOpeningKeys(id, directory).map((k) => toHex(k.kid))).toEqual([
      toHex(g2!.boxKid),
      toHex(g1!.boxKid),
    ]);
    await publish([rec(g1!, 'revoked')]);
    await directory.refresh();
    expect(usableOpeningKeys(id, directory).map((k) => toHex(k.kid))).toEqual([toHex(g2!.boxKid)]);
    id.close();
  });
});
