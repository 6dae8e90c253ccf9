/**
 * Durable replay state (docs/SPEC.md §6), per (group, topic, partition):
 *
 * - A state record {generation, nextOffset, windows} is sealed with XChaCha20-Poly1305 under a 32-byte
 *   state key of (identity, group). The state key is wrapped by the KMS and kept on the same compacted
 *   state topic under `k/<identity>/<group>/<keyId>`; it is unwrapped once, when the consumer starts.
 * - Record value: `u8 1 ‖ keyId[16] ‖ nonce[24] ‖ AEAD(stateKey, nonce, plaintext, aad)` with
 *   aad = `L(replay-state) ‖ u16 |group| ‖ group ‖ u16 |topic| ‖ topic ‖ u32 partition` and plaintext
 *   `u64 generation ‖ u64 nextOffset ‖ u32 n ‖ (u16 |replayKey| ‖ replayKey ‖ u16 |window| ‖ window)ⁿ
 *   ‖ u32 m ‖ (keyHash[32] ‖ u64 entityVersion)ᵐ [‖ u64 handOutMark]` (the last accepted entity
 *   version per record key, for topics under the compacted-topic policy; the hand-out mark — offsets
 *   below it may have been handed to the handler by the writer — is absent in records written before
 *   it existed, and then taken as unknown).
 * - Record key: `s/<group>/<topic>/<partition>/<generation mod 2>`. Two alternating slots: the record
 *   the committed offset points to is never overwritten before the next commit succeeded, so
 *   compaction can never remove it.
 * - The offset commit's metadata points to it: `sealpost-replay/v2 <generation> <hash> <p>:<o> <kp>:<ko>`
 *   with hash = hex H(L(replay-state-record) ‖ value), `<p>:<o>` the state partition and offset of
 *   the record, `<kp>:<ko>` those of the state key record it is sealed under. Order: write the state
 *   record (acks=all), then commit. (`sealpost-replay/v1 <generation> <hash>`, written before, has
 *   no location; it is still read, by a scan of the whole topic.)
 * - Placement: every record of a group (its key records and state slots) is written to one state
 *   partition, the one the default partitioner gives the record key `g/<group>` (docs/SPEC.md §6).
 *   A reassignment reads only the records its commits point to (and the key record once per
 *   process), skipping everything else by offset: its cost does not depend on how many other groups
 *   share the state topic. Only a partition with no commit pointer (the group's first start) reads
 *   the group's state partition from the start.
 *
 * On assignment the consumer loads the record the commit names and requires: present, hash equal,
 * AEAD opens, generation equal, nextOffset = the committed offset. With no commit at all (offset -1,
 * no metadata) it starts empty if the partition has no state record, and otherwise loads the newest
 * record that authenticates (state written by an owner whose commit never landed; it continues at
 * that record's nextOffset). Otherwise the partition stays paused (REPLAY_STATE_MISSING /
 * REPLAY_STATE_MISMATCH) unless the `rebuild` policy is chosen.
 */
import {
  decodeReleaseSet,
  encodeReleaseSet,
  RELEASE_SET_TAG,
  type ReleaseSet,
} from './consumer/release-dedupe.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { hash256 } from '../envelope/derive.js';
import { label } from '../envelope/labels.js';
import { ReplayWindow } from '../envelope/replay-window.js';
import type { ConsumedRecord, Transport, TransportProducer } from '../kafka/transport.js';
import type { Kms } from '../keys/kms/kms.js';
import type { Clock } from '../runtime/clock.js';
import { PipelineError } from './pipeline-error.js';
import { readStateRecordsAt, readStateTopicToEnd } from './state-topic-reader.js';
import { describeError, type PipelineLogger } from './pipeline-logger.js';

const RECORD_VERSION = 1;
const KEY_ID_BYTES = 16;
const NONCE_BYTES = 24;
const TAG_BYTES = 16;
const STATE_AAD_LABEL = label('replay-state');
const STATE_HASH_LABEL = label('replay-state-record');
const POINTER_PREFIX = 'sealpost-replay/v2';
const MAX_WINDOWS = 100_000;
const MAX_ENTITY_KEYS = 10_000_000;

/** The replay state of one partition for one group. */
export interface PartitionReplayState {
  /** Generation of the last state record committed (0 = none yet). */
  generation: number;
  /** The next offset to process; null when unknown (first start, or after a rebuild). */
  nextOffset: bigint | null;
  readonly windows: Map<string, ReplayWindow>;
  /** Last accepted entity version per hex H(record key), for topics under the entity-version policy. */
  readonly entityVersions: Map<string, number>;
  /**
   * Offsets below this may have been handed to the handler by the member that wrote the state (it is
   * persisted before a record at or above the previous mark is handed out); null when unknown.
   */
  handOutMark: bigint | null;
  /** Release ids accepted (docs/SPEC.md §11.3 R5): hex id → expiresAtMs; absent when none. */
  releases?: ReleaseSet;
}

/** What loading a partition's state found. */
export type LoadOutcome =
  | { readonly kind: 'loaded'; readonly state: PartitionReplayState }
  | { readonly kind: 'fresh'; readonly state: PartitionReplayState }
  | { readonly kind: 'rebuilt'; readonly state: PartitionReplayState }
  | { readonly kind: 'refused'; readonly error: PipelineError };

/** Where a record is on the state topic. */
export interface StateLocation {
  readonly partition: number;
  readonly offset: bigint;
}

/** Parsed commit metadata. */
export interface StatePointer {
  readonly generation: number;
  readonly hash: string;
  /** v2: where the state record is, and the key record it is sealed under. */
  readonly state?: StateLocation;
  readonly key?: StateLocation;
}

/**
 * Parses `sealpost-replay/v2 <generation> <hash> <p>:<o> <kp>:<ko>` and
 * `sealpost-replay/v1 <generation> <hash>`; undefined for anything else.
 */
export function parseStatePointer(metadata: string | null): StatePointer | undefined {
  if (metadata === null) return undefined;
  const v2 =
    /^sealpost-replay\/v2 ([1-9][0-9]{0,15}) ([0-9a-f]{64}) (0|[1-9][0-9]{0,8}):(0|[1-9][0-9]{0,18}) (0|[1-9][0-9]{0,8}):(0|[1-9][0-9]{0,18})$/.exec(
      metadata,
    );
  if (v2 !== null)
    return {
      generation: Number(v2[1]),
      hash: v2[2]!,
      state: { partition: Number(v2[3]), offset: BigInt(v2[4]!) },
      key: { partition: Number(v2[5]), offset: BigInt(v2[6]!) },
    };
  const m = /^sealpost-replay\/v1 ([1-9][0-9]{0,15}) ([0-9a-f]{64})$/.exec(metadata);
  if (m === null) return undefined;
  return { generation: Number(m[1]), hash: m[2]! };
}

/** A partition whose state a scan must make loadable, with the group's commit for it. */
export interface StateNeed {
  readonly topic: string;
  readonly partition: number;
  readonly committed: { readonly offset: string; readonly metadata: string | null };
}

/** What the last scan read (operators and tests: the cost of a reassignment). */
export interface StateScanStats {
  /** `targeted`: only the records the commits point to; `group`: the group's state partition; `full`: the whole topic. */
  readonly mode: 'targeted' | 'group' | 'full';
  readonly recordsRead: number;
}

export interface ReplayStateStoreOptions {
  readonly transport: Transport;
  readonly producer: TransportProducer;
  readonly stateTopic: string;
  readonly group: string;
  readonly identity: string;
  readonly kms: Kms;
  readonly crypto: CryptoProvider;
  readonly clock: Clock;
  readonly logger: PipelineLogger;
  /** Time allowed to read the state topic to its end. Default 60 s. */
  readonly scanTimeoutMs?: number;
}

const enc = new TextEncoder();

function u16(n: number): Uint8Array {
  return Uint8Array.of((n >>> 8) & 0xff, n & 0xff);
}

function aadFor(group: string, topic: string, partition: number): Uint8Array {
  const g = enc.encode(group);
  const t = enc.encode(topic);
  const out = new Uint8Array(STATE_AAD_LABEL.length + 2 + g.length + 2 + t.length + 4);
  let o = 0;
  out.set(STATE_AAD_LABEL, o);
  o += STATE_AAD_LABEL.length;
  out.set(u16(g.length), o);
  out.set(g, o + 2);
  o += 2 + g.length;
  out.set(u16(t.length), o);
  out.set(t, o + 2);
  o += 2 + t.length;
  new DataView(out.buffer).setUint32(o, partition);
  return out;
}

/** Serialises the plaintext of a state record. */
export function encodeStatePlaintext(
  generation: number,
  nextOffset: bigint,
  windows: ReadonlyMap<string, ReplayWindow>,
  entityVersions: ReadonlyMap<string, number> = new Map(),
  handOutMark: bigint | null = null,
  releases?: ReadonlyMap<string, number>,
): Uint8Array {
  const releaseBlock = encodeReleaseSet(releases);
  const parts: Uint8Array[] = [];
  let size =
    8 +
    8 +
    4 +
    4 +
    entityVersions.size * (32 + 8) +
    (handOutMark === null ? 0 : 8) +
    releaseBlock.length;
  for (const [k, w] of windows) {
    const kb = enc.encode(k);
    const wb = w.toBytes();
    parts.push(u16(kb.length), kb, u16(wb.length), wb);
    size += 4 + kb.length + wb.length;
  }
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(generation));
  dv.setBigUint64(8, nextOffset);
  dv.setUint32(16, windows.size);
  let o = 20;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  dv.setUint32(o, entityVersions.size);
  o += 4;
  for (const [k, v] of entityVersions) {
    out.set(Buffer.from(k, 'hex'), o);
    dv.setBigUint64(o + 32, BigInt(v));
    o += 40;
  }
  if (handOutMark !== null) {
    dv.setBigUint64(o, handOutMark);
    o += 8;
  }
  out.set(releaseBlock, o);
  return out;
}

/** Strict inverse of encodeStatePlaintext; throws REPLAY_STATE_MISMATCH on any deviation. */
export function decodeStatePlaintext(bytes: Uint8Array): OpenedState {
  const bad = (): never => {
    throw new PipelineError('REPLAY_STATE_MISMATCH', 'replay state record is malformed');
  };
  if (bytes.length < 24) bad();
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const generation = dv.getBigUint64(0);
  if (generation > BigInt(Number.MAX_SAFE_INTEGER)) bad();
  const nextOffset = dv.getBigUint64(8);
  const n = dv.getUint32(16);
  if (n > MAX_WINDOWS) bad();
  const windows = new Map<string, ReplayWindow>();
  const dec = new TextDecoder('utf-8', { fatal: true });
  let o = 20;
  for (let i = 0; i < n; i++) {
    if (o + 2 > bytes.length) bad();
    const kl = dv.getUint16(o);
    o += 2;
    if (o + kl + 2 > bytes.length) bad();
    const k = dec.decode(bytes.subarray(o, o + kl));
    o += kl;
    const wl = dv.getUint16(o);
    o += 2;
    if (o + wl > bytes.length) bad();
    let w: ReplayWindow;
    try {
      w = ReplayWindow.fromBytes(bytes.subarray(o, o + wl));
    } catch {
      return bad();
    }
    o += wl;
    if (windows.has(k)) bad();
    windows.set(k, w);
  }
  if (o + 4 > bytes.length) bad();
  const m = dv.getUint32(o);
  o += 4;
  const rest = bytes.length - o - m * 40;
  if (m > MAX_ENTITY_KEYS || rest < 0) bad();
  const entityVersions = new Map<string, number>();
  for (let i = 0; i < m; i++) {
    const k = Buffer.from(bytes.subarray(o, o + 32)).toString('hex');
    const v = dv.getBigUint64(o + 32);
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || entityVersions.has(k)) bad();
    entityVersions.set(k, Number(v));
    o += 40;
  }
  // Then an optional hand-out mark (8 bytes), then an optional release-id block (SPEC §11.3).
  let handOutMark: bigint | null = null;
  if (o < bytes.length && bytes[o] !== RELEASE_SET_TAG) {
    if (bytes.length - o < 8) bad();
    handOutMark = dv.getBigUint64(o);
    o += 8;
  }
  let releases: ReleaseSet | undefined;
  if (o < bytes.length) releases = decodeReleaseSet(bytes.subarray(o)) ?? bad();
  return {
    generation: Number(generation),
    nextOffset,
    windows,
    entityVersions,
    handOutMark,
    ...(releases === undefined ? {} : { releases }),
  };
}

type OpenedState = {
  generation: number;
  nextOffset: bigint;
  windows: Map<string, ReplayWindow>;
  entityVersions: Map<string, number>;
  handOutMark: bigint | null;
  releases?: ReleaseSet;
};

/** See the module comment. */
export class ReplayStateStore {
  readonly #o: ReplayStateStoreOptions;
  readonly #keys = new Map<string, Uint8Array>();
  /** Where each unwrapped state key's record was read or written. */
  readonly #keyLocations = new Map<string, StateLocation>();
  #currentKeyId: string | undefined;
  #groupPartition: number | undefined;
  /** State-topic values by record key, in log order (filled by scan). */
  #scanned = new Map<string, Buffer[]>();
  #lastScan: StateScanStats | undefined;

  constructor(options: ReplayStateStoreOptions) {
    this.#o = options;
  }

  #slotKey(topic: string, partition: number, generation: number): string {
    return `s/${encodeURIComponent(this.#o.group)}/${topic}/${partition}/${generation % 2}`;
  }

  #keyPrefix(): string {
    return `k/${this.#o.identity}/${encodeURIComponent(this.#o.group)}/`;
  }

  /** The state partition every record of this group is written to (see the module comment). */
  async #statePartition(): Promise<number> {
    this.#groupPartition ??= await this.#o.producer.partitionFor(
      this.#o.stateTopic,
      Buffer.from(`g/${encodeURIComponent(this.#o.group)}`),
    );
    return this.#groupPartition;
  }

  /** What the last scan read; undefined before the first. */
  get lastScan(): StateScanStats | undefined {
    return this.#lastScan;
  }

  /**
   * Reads what loading `needs` takes, then unwraps (or creates) the state key. With every commit a
   * v2 pointer, only the records they point to (and, once per process, the key record); with a
   * partition that has no pointer, the group's state partition; with a v1 pointer or without
   * `needs`, the whole topic (compacted: small) — see the module comment.
   */
  async scan(needs?: readonly StateNeed[]): Promise<void> {
    const pointers = (needs ?? []).map((n) => parseStatePointer(n.committed.metadata));
    const out = new Map<string, Buffer[]>();
    const locations = new Map<string, StateLocation>();
    const recordKeyAt = new Map<string, string>();
    const collect = (partition: number, r: ConsumedRecord): void => {
      if (r.key === null || r.value === null) return;
      const k = r.key.toString('utf8');
      const list = out.get(k) ?? [];
      list.push(Buffer.from(r.value));
      out.set(k, list);
      locations.set(k, { partition, offset: BigInt(r.offset) });
      recordKeyAt.set(`${partition}:${r.offset}`, k);
    };
    const groupId = (): string =>
      `${this.#o.group}.sealpost-state-scan.${Buffer.from(this.#o.crypto.randomBytes(6)).toString('hex')}`;
    const timeoutMs = this.#o.scanTimeoutMs ?? 60_000;
    const base = { transport: this.#o.transport, topic: this.#o.stateTopic, timeoutMs };
    const legacy =
      needs === undefined || pointers.some((p) => p !== undefined && p.state === undefined);
    const unpointed = pointers.some((p) => p === undefined);
    const keyAt = [
      ...new Map(
        pointers.flatMap((p) =>
          p?.key === undefined ? [] : [[`${p.key.partition}:${p.key.offset}`, p.key]],
        ),
      ).values(),
    ];
    // Key records the pointers name that this store has not read: the group may have more than one
    // state key (two members creating one at the very same first start), and a partition taken over
    // may be sealed under the other.
    const held = [...this.#keyLocations.values()];
    const unknownKeyAt = keyAt.filter(
      (k) => !held.some((h) => h.partition === k.partition && h.offset === k.offset),
    );
    let mode: StateScanStats['mode'];
    let recordsRead = 0;
    if (legacy) {
      mode = 'full';
      ({ recordsRead } = await readStateTopicToEnd({
        ...base,
        groupId: groupId(),
        onRecord: collect,
      }));
    } else if (unpointed || (this.#currentKeyId === undefined && keyAt.length === 0)) {
      mode = 'group';
      const gp = await this.#statePartition();
      ({ recordsRead } = await readStateTopicToEnd({
        ...base,
        groupId: groupId(),
        partitions: [gp],
        onRecord: collect,
      }));
      // Pointed records elsewhere than the group's partition (none are written so).
      const elsewhere = pointers.flatMap((p) =>
        p?.state !== undefined && p.state.partition !== gp ? [p.state] : [],
      );
      if (elsewhere.length > 0)
        recordsRead += (
          await readStateRecordsAt({
            ...base,
            groupId: groupId(),
            at: elsewhere,
            onRecord: collect,
          })
        ).recordsRead;
    } else {
      mode = 'targeted';
      const at = [
        ...pointers.flatMap((p) => (p?.state === undefined ? [] : [p.state])),
        ...unknownKeyAt,
      ];
      ({ recordsRead } = await readStateRecordsAt({
        ...base,
        groupId: groupId(),
        at,
        onRecord: collect,
      }));
    }
    this.#scanned = out;
    await this.#unwrapKeys(out, locations);
    const prefix = this.#keyPrefix();
    const unresolved =
      mode === 'targeted'
        ? unknownKeyAt.filter((loc) => {
            const k = recordKeyAt.get(`${loc.partition}:${loc.offset}`);
            return (
              k === undefined || !k.startsWith(prefix) || !this.#keys.has(k.slice(prefix.length))
            );
          })
        : [];
    if (unresolved.length > 0) {
      // A key record a pointer names was rewrapped (and maybe compacted away; docs/OPERATIONS.md,
      // key lifecycle): its newest value is later on the same partition.
      const keyOut = new Map<string, Buffer[]>();
      const keyLocations = new Map<string, StateLocation>();
      recordsRead += (
        await readStateTopicToEnd({
          ...base,
          groupId: groupId(),
          partitions: [...new Set(unresolved.map((k) => k.partition))],
          onRecord: (partition, r) => {
            const k = r.key?.toString('utf8');
            if (k === undefined || !k.startsWith(this.#keyPrefix()) || r.value === null) return;
            const list = keyOut.get(k) ?? [];
            list.push(Buffer.from(r.value));
            keyOut.set(k, list);
            keyLocations.set(k, { partition, offset: BigInt(r.offset) });
          },
        })
      ).recordsRead;
      await this.#unwrapKeys(keyOut, keyLocations);
    }
    this.#lastScan = { mode, recordsRead };
    if (this.#currentKeyId === undefined) await this.#createKey();
  }

  /** Unwraps this (identity, group)'s key records among `records` that are not unwrapped yet. */
  async #unwrapKeys(
    records: ReadonlyMap<string, Buffer[]>,
    locations: ReadonlyMap<string, StateLocation>,
  ): Promise<void> {
    const prefix = this.#keyPrefix();
    for (const [k, values] of records) {
      if (!k.startsWith(prefix) || this.#keys.has(k.slice(prefix.length))) continue;
      const last = values.at(-1);
      if (last === undefined) continue;
      let wrapped: unknown;
      try {
        wrapped = (JSON.parse(last.toString('utf8')) as { wrapped?: unknown }).wrapped;
      } catch {
        continue;
      }
      if (typeof wrapped !== 'string') continue;
      let key: Uint8Array;
      try {
        key = await this.#o.kms.unwrap(wrapped);
      } catch (err) {
        // A key record another keyring wrapped (or a forged one) is not ours: skip it. A KMS that is
        // down (retriable) fails the scan, which is retried with backoff.
        if (
          typeof err === 'object' &&
          err !== null &&
          (err as { retriable?: unknown }).retriable === true
        )
          throw err;
        this.#o.logger.warn(
          { err: describeError(err) },
          'replay state key record could not be unwrapped; skipped',
        );
        continue;
      }
      if (key.length !== 32) {
        this.#o.crypto.memzero(key);
        continue;
      }
      const id = k.slice(prefix.length);
      this.#keys.set(id, key);
      const at = locations.get(k);
      if (at !== undefined) this.#keyLocations.set(id, at);
      this.#currentKeyId ??= id;
    }
  }

  async #createKey(): Promise<void> {
    const c = this.#o.crypto;
    const key = c.randomBytes(32);
    const id = Buffer.from(c.randomBytes(KEY_ID_BYTES)).toString('hex');
    const wrapped = await this.#o.kms.wrap(key);
    const recordKey = Buffer.from(this.#keyPrefix() + id);
    const partition = await this.#statePartition();
    const ack = await this.#o.producer.send({
      topic: this.#o.stateTopic,
      partition,
      records: [{ key: recordKey, value: Buffer.from(JSON.stringify({ v: 1, wrapped }), 'utf8') }],
    });
    this.#keys.set(id, key);
    this.#keyLocations.set(id, { partition, offset: BigInt(ack.baseOffset) });
    this.#currentKeyId = id;
  }

  #open(topic: string, partition: number, value: Uint8Array): OpenedState {
    const c = this.#o.crypto;
    const head = 1 + KEY_ID_BYTES + NONCE_BYTES;
    if (value.length < head + TAG_BYTES + 20 || value[0] !== RECORD_VERSION) {
      throw new PipelineError(
        'REPLAY_STATE_MISMATCH',
        'replay state record has a wrong version or size',
      );
    }
    const keyId = Buffer.from(value.subarray(1, 1 + KEY_ID_BYTES)).toString('hex');
    const key = this.#keys.get(keyId);
    if (key === undefined)
      throw new PipelineError(
        'REPLAY_STATE_MISMATCH',
        'replay state record names an unknown state key',
      );
    const ct = value.subarray(head);
    const plain = new Uint8Array(ct.length - TAG_BYTES);
    try {
      if (
        !c.aeadDecrypt(
          plain,
          ct,
          aadFor(this.#o.group, topic, partition),
          value.subarray(1 + KEY_ID_BYTES, head),
          key,
        )
      ) {
        throw new PipelineError(
          'REPLAY_STATE_MISMATCH',
          'replay state record does not authenticate',
        );
      }
      return decodeStatePlaintext(plain);
    } finally {
      c.memzero(plain);
    }
  }

  #hash(value: Uint8Array): string {
    return Buffer.from(hash256(this.#o.crypto, STATE_HASH_LABEL, value)).toString('hex');
  }

  /**
   * The newest record of the partition that authenticates: the highest generation, and of equal
   * generations (one slot, log order) the last written. Records that do not open are ignored.
   */
  #newest(topic: string, partition: number, slots: readonly Buffer[]): OpenedState | undefined {
    let best: OpenedState | undefined;
    for (const v of slots) {
      try {
        const s = this.#open(topic, partition, v);
        if (best === undefined || s.generation >= best.generation) best = s;
      } catch {
        // not ours, or not authentic: ignored
      }
    }
    return best;
  }

  /**
   * The state of a partition given the group's committed offset and metadata (call scan() first).
   * `policy` 'pause' refuses a missing or mismatched record; 'rebuild' starts from the newest record
   * of the partition that authenticates (windows kept: a rewind never clears them), else empty.
   */
  load(
    topic: string,
    partition: number,
    committed: { offset: string; metadata: string | null },
    policy: 'pause' | 'rebuild',
  ): LoadOutcome {
    const pointer = parseStatePointer(committed.metadata);
    const slots = [0, 1].flatMap(
      (s) => this.#scanned.get(this.#slotKey(topic, partition, s)) ?? [],
    );
    const refuse = (error: PipelineError): LoadOutcome => {
      if (policy === 'pause') return { kind: 'refused', error };
      const best = this.#newest(topic, partition, slots);
      return {
        kind: 'rebuilt',
        state: {
          generation: best?.generation ?? 0,
          nextOffset: null,
          windows: best?.windows ?? new Map<string, ReplayWindow>(),
          entityVersions: best?.entityVersions ?? new Map<string, number>(),
          ...(best?.releases === undefined ? {} : { releases: best.releases }),
          // The offsets of a rebuilt state are not the committed ones: the mark means nothing here.
          handOutMark: null,
        },
      };
    };
    if (pointer === undefined) {
      if (committed.offset === '-1' && slots.length === 0)
        return {
          kind: 'fresh',
          state: {
            generation: 0,
            nextOffset: null,
            windows: new Map(),
            entityVersions: new Map(),
            handOutMark: null,
          },
        };
      if (committed.offset === '-1') {
        // No commit, yet state records: a previous owner wrote state whose commit never landed (its
        // first commit failed, or the state write's acknowledgement was lost, then it crashed or the
        // partition moved). Its newest authentic record is ahead of the (absent) commit: every offset
        // below its nextOffset was processed, its windows hold every seq accepted, its mark bounds
        // what was handed out (windows and marks only grow). Load it and go on from its nextOffset:
        // refusing it would hold the partition for an operator after an ordinary fault, and starting
        // empty would forget accepted seqs.
        const ahead = this.#newest(topic, partition, slots);
        if (ahead !== undefined)
          return {
            kind: 'loaded',
            state: {
              generation: ahead.generation,
              nextOffset: ahead.nextOffset,
              windows: ahead.windows,
              entityVersions: ahead.entityVersions,
              handOutMark: ahead.handOutMark,
              ...(ahead.releases === undefined ? {} : { releases: ahead.releases }),
            },
          };
      }
      return refuse(
        new PipelineError(
          'REPLAY_STATE_MISSING',
          `no replay state pointer in the commit of ${topic}/${partition}`,
        ),
      );
    }
    const candidates = this.#scanned.get(this.#slotKey(topic, partition, pointer.generation)) ?? [];
    const value = candidates.find((v) => this.#hash(v) === pointer.hash);
    if (value === undefined)
      return refuse(
        new PipelineError(
          'REPLAY_STATE_MISSING',
          `the replay state record of ${topic}/${partition} is missing`,
        ),
      );
    let s;
    try {
      s = this.#open(topic, partition, value);
    } catch (err) {
      return refuse(
        err instanceof PipelineError
          ? err
          : new PipelineError('REPLAY_STATE_MISMATCH', 'replay state record invalid'),
      );
    }
    if (s.generation !== pointer.generation || s.nextOffset.toString() !== committed.offset) {
      return refuse(
        new PipelineError(
          'REPLAY_STATE_MISMATCH',
          `the replay state of ${topic}/${partition} does not match the committed offset`,
        ),
      );
    }
    return {
      kind: 'loaded',
      state: {
        generation: s.generation,
        nextOffset: s.nextOffset,
        windows: s.windows,
        entityVersions: s.entityVersions,
        handOutMark: s.handOutMark,
        ...(s.releases === undefined ? {} : { releases: s.releases }),
      },
    };
  }

  /**
   * Seals and writes (acks=all) the state record of generation `state.generation + 1` for
   * `nextOffset`; returns the commit metadata pointing to it. The caller commits the offset with it
   * and only then sets state.generation.
   */
  async write(
    topic: string,
    partition: number,
    state: PartitionReplayState,
    nextOffset: bigint,
  ): Promise<{ generation: number; metadata: string }> {
    const c = this.#o.crypto;
    const keyId = this.#currentKeyId;
    const key = keyId === undefined ? undefined : this.#keys.get(keyId);
    if (keyId === undefined || key === undefined)
      throw new PipelineError('REPLAY_STATE_KEY_UNAVAILABLE', 'scan() first', { retriable: true });
    const generation = state.generation + 1;
    const mark =
      state.handOutMark === null
        ? null
        : state.handOutMark > nextOffset
          ? state.handOutMark
          : nextOffset;
    const plain = encodeStatePlaintext(
      generation,
      nextOffset,
      state.windows,
      state.entityVersions,
      mark,
      state.releases,
    );
    const value = new Uint8Array(1 + KEY_ID_BYTES + NONCE_BYTES + plain.length + TAG_BYTES);
    value[0] = RECORD_VERSION;
    value.set(Buffer.from(keyId, 'hex'), 1);
    const nonce = value.subarray(1 + KEY_ID_BYTES, 1 + KEY_ID_BYTES + NONCE_BYTES);
    c.randomFill(nonce);
    c.aeadEncrypt(
      value.subarray(1 + KEY_ID_BYTES + NONCE_BYTES),
      plain,
      aadFor(this.#o.group, topic, partition),
      nonce,
      key,
    );
    c.memzero(plain);
    const recordKey = Buffer.from(this.#slotKey(topic, partition, generation));
    const p = await this.#statePartition();
    const ack = await this.#o.producer.send({
      topic: this.#o.stateTopic,
      partition: p,
      records: [{ key: recordKey, value: Buffer.from(value) }],
    });
    const keyAt = this.#keyLocations.get(keyId);
    const location =
      keyAt === undefined
        ? '' // a key whose record was never seen here: v2 needs its location, so fall back below
        : ` ${p}:${ack.baseOffset} ${keyAt.partition}:${keyAt.offset}`;
    return {
      generation,
      metadata:
        location === ''
          ? `sealpost-replay/v1 ${generation} ${this.#hash(value)}`
          : `${POINTER_PREFIX} ${generation} ${this.#hash(value)}${location}`,
    };
  }

  /** Zeros the state keys. */
  close(): void {
    for (const k of this.#keys.values()) this.#o.crypto.memzero(k);
    this.#keys.clear();
    this.#keyLocations.clear();
    this.#currentKeyId = undefined;
  }
}
