import type { CryptoProvider } from '../crypto/provider.js';
import {
  DEAD_LETTER_HEADER,
  encodeDeadLetterMetadata,
  recordBytesHash,
  signDeadLetter,
  type CoarseClass,
} from '../events/dead-letter.js';
import type { ConsumedRecord, TransportProducer } from '../kafka/transport.js';
import type { KeyDirectory } from '../keys/directory/key-directory.js';
import type { LoadedIdentity } from '../keys/identity.js';
import type { Clock } from '../runtime/clock.js';
import { envelopeSuiteOf } from './envelope-suite.js';

/** Options of {@link DeadLetterWriter}. */
export interface DeadLetterWriterOptions {
  readonly producer: TransportProducer;
  readonly topic: string;
  readonly crypto: CryptoProvider;
  readonly clock: Clock;
  readonly identity: LoadedIdentity;
  readonly directory: KeyDirectory;
  readonly group: string;
  /** Identities the detailed code is sealed to (those with an active directory key). */
  readonly detailRecipients: readonly string[];
}

/**
 * Writes a rejected record to the dead-letter topic: its key, value bytes and headers untouched, plus
 * ONE appended header `sealpost-dead-letter` (src/events/dead-letter.ts) with the coarse class in
 * clear, the detailed code sealed (crypto_box_seal) to each detail recipient, the suite when the
 * record is suite 2, and the consumer's signature. Resolves once the broker acknowledged (acks=all): only then may the source offset move.
 */
export class DeadLetterWriter {
  readonly #o: DeadLetterWriterOptions;
  constructor(options: DeadLetterWriterOptions) {
    this.#o = options;
  }

  async write(
    record: ConsumedRecord,
    coarse: CoarseClass,
    detail: string,
    attempt: number,
  ): Promise<void> {
    const o = this.#o;
    const sealedDetail: Record<string, string> = {};
    const detailBytes = new TextEncoder().encode(detail);
    for (const name of o.detailRecipients) {
      const key = o.directory.recipientKeysForIdentity(name).find((k) => k.status === 'active');
      if (key === undefined) continue;
      sealedDetail[Buffer.from(key.kid).toString('hex')] = Buffer.from(
        o.crypto.boxSeal(detailBytes, key.publicKey),
      ).toString('base64');
    }
    const meta = signDeadLetter(
      o.crypto,
      {
        v: 1,
        class: coarse,
        sealedDetail,
        topic: record.topic,
        partition: record.partition,
        offset: record.offset,
        timestamp: String(record.timestampMs),
        group: o.group,
        consumer: o.identity.name,
        attempt,
        timeMs: o.clock.nowMs(),
        keyHash: recordBytesHash(o.crypto, record.key),
        valueHash: recordBytesHash(o.crypto, record.value),
        ...(envelopeSuiteOf(record.value) === 2 ? { suite: 2 as const } : {}),
      },
      o.identity.signingKey().secretKey,
    );
    const partition = await o.producer.partitionFor(o.topic, record.key);
    await o.producer.send({
      topic: o.topic,
      partition,
      records: [
        {
          key: record.key,
          value: record.value,
          headers: [
            ...record.headers,
            { key: DEAD_LETTER_HEADER, value: encodeDeadLetterMetadata(meta) },
          ],
          timestampMs: record.timestampMs,
        },
      ],
    });
  }
}
