/**
 * The replay-state key records on the state topic as a holder of KMS-wrapped keys (docs/API.md,
 * "Replay state": one key per (identity, group), wrapped by the consumer's KMS and kept under
 * `k/<identity>/<group>/<keyId>` with value `{"v":1,"wrapped":…}`). After a KMS key rotation they are
 * rewrapped in place: a new record with the same record key (on the same partition) carries the key
 * rewrapped under the latest version — the state key itself, its id and the state records sealed under
 * it do not change, and compaction drops the old wrap. A consumer reads the last value of a key record,
 * so it unwraps the new one at its next start (docs/OPERATIONS.md, key lifecycle step 7).
 */
import type { CryptoProvider } from '../crypto/provider.js';
import type { Transport } from '../kafka/transport.js';
import { wrappedKeyVersion } from '../keys/kms/kms.js';
import type { WrappedKeyHolder, WrappedKeyItem } from '../keys/kms/wrapped-key-inventory.js';
import { readStateTopicToEnd } from './state-topic-reader.js';

export interface ReplayStateKeyRewrapOptions {
  readonly transport: Transport;
  readonly stateTopic: string;
  /** The identities whose key records are wrapped by the KMS key given to list/rewrap. */
  readonly identities: readonly string[];
  readonly crypto: CryptoProvider;
  /** Time allowed to read the state topic to its end. Default 60 s. */
  readonly scanTimeoutMs?: number;
}

/** The newest value of one key record. */
interface KeyRecord {
  readonly recordKey: Buffer;
  readonly partition: number;
  readonly identity: string;
  readonly group: string;
  readonly value: { readonly v?: unknown; readonly wrapped: string } & Record<string, unknown>;
}

/** The replay-state key records of `identities` on the state topic (see the module comment). */
export function replayStateKeysHolder(options: ReplayStateKeyRewrapOptions): WrappedKeyHolder {
  const item = (r: KeyRecord, wrapped: string): WrappedKeyItem => ({
    what: `state topic ${options.stateTopic} key record of ${r.identity} for group ${r.group}`,
    version: wrappedKeyVersion(wrapped) ?? 0,
  });
  return {
    async list() {
      return (await readKeyRecords(options)).map((r) => item(r, r.value.wrapped));
    },
    async rewrap(kms, latestVersion) {
      const stale = (await readKeyRecords(options)).filter(
        (r) => (wrappedKeyVersion(r.value.wrapped) ?? 0) < latestVersion,
      );
      if (stale.length === 0) return [];
      const done: WrappedKeyItem[] = [];
      const producer = options.transport.producer();
      await producer.connect();
      try {
        for (const r of stale) {
          const wrapped = await kms.rewrap(r.value.wrapped);
          await producer.send({
            topic: options.stateTopic,
            partition: r.partition,
            records: [
              {
                key: r.recordKey,
                value: Buffer.from(JSON.stringify({ ...r.value, wrapped }), 'utf8'),
              },
            ],
          });
          done.push(item(r, wrapped));
        }
      } finally {
        await producer.disconnect();
      }
      return done;
    },
  };
}

/** Reads the state topic to its end; the newest value of each key record of `identities`. */
async function readKeyRecords(options: ReplayStateKeyRewrapOptions): Promise<KeyRecord[]> {
  const admin = options.transport.admin();
  await admin.connect();
  try {
    // No state topic yet: no consumer has a state key.
    if (!(await admin.listTopics()).includes(options.stateTopic)) return [];
  } finally {
    await admin.disconnect();
  }
  const newest = new Map<string, { partition: number; recordKey: Buffer; value: Buffer | null }>();
  await readStateTopicToEnd({
    transport: options.transport,
    topic: options.stateTopic,
    groupId: `sealpost-state-key-rewrap.${Buffer.from(options.crypto.randomBytes(6)).toString('hex')}`,
    timeoutMs: options.scanTimeoutMs ?? 60_000,
    onRecord: (partition, r) => {
      const k = r.key?.toString('utf8');
      if (k?.startsWith('k/') === true)
        newest.set(k, {
          partition,
          recordKey: Buffer.from(r.key!),
          value: r.value === null ? null : Buffer.from(r.value),
        });
    },
  });
  const out: KeyRecord[] = [];
  for (const [k, { partition, recordKey, value }] of newest) {
    // k/<identity>/<group, URI-encoded>/<keyId>; identity names have no '/'.
    const parts = k.split('/');
    if (parts.length !== 4 || value === null) continue;
    const identity = parts[1]!;
    if (!options.identities.includes(identity)) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(value.toString('utf8'));
    } catch {
      continue; // not a key record the consumer would read either
    }
    const wrapped = (parsed as { wrapped?: unknown } | null)?.wrapped;
    if (typeof wrapped !== 'string') continue;
    let group: string;
    try {
      group = decodeURIComponent(parts[2]!);
    } catch {
      continue;
    }
    out.push({
      recordKey,
      partition,
      identity,
      group,
      value: { ...(parsed as Record<string, unknown>), wrapped },
    });
  }
  return out;
}
