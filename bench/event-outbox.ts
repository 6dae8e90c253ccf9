/**
 * Cost per metadata event of the emitter's outbox (docs/OPERATIONS.md, audit events): `emit` with no
 * outbox, with the outbox fsync'd on every event (the default) and with fsync at most every 100 ms.
 * The producer stand-in never acknowledges, so only the queueing and the outbox are measured.
 *   npx tsx bench/event-outbox.ts [events]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCryptoProvider } from '../src/crypto/index.js';
import { MetadataEventEmitter } from '../src/pipeline/metadata-event-emitter.js';
import type { SealedProducer } from '../src/pipeline/sealed-producer.js';
import { systemClock } from '../src/runtime/clock.js';

const count = Number(process.argv[2] ?? 5000);
const crypto = await createCryptoProvider();
const dir = mkdtempSync(join(tmpdir(), 'sealpost-outbox-bench-'));
const neverAcknowledges = {
  sendRaw: () => new Promise<never>(() => undefined),
} as unknown as SealedProducer;

function run(label: string, outbox: { path: string; syncMs: number } | undefined): void {
  const emitter = new MetadataEventEmitter({
    producer: neverAcknowledges,
    topic: 'unused',
    crypto,
    clock: systemClock,
    actor: 'orders',
    maxBatch: 10_000_000,
    maxQueued: 10_000_000,
    flushIntervalMs: 3_600_000,
    ...(outbox === undefined
      ? {}
      : { outboxPath: outbox.path, outboxSyncIntervalMs: outbox.syncMs }),
  });
  const started = process.hrtime.bigint();
  for (let i = 0; i < count; i++)
    emitter.emit({
      type: 'sealed',
      messageId: 'ab'.repeat(16),
      recipients: ['billing'],
      topic: 'orders',
      partition: i % 12,
      schemaId: 1,
      ciphertextDigest: 'cd'.repeat(32),
      sizeBytes: 300,
    });
  const us = Number(process.hrtime.bigint() - started) / 1000 / count;
  console.log(`${label}: ${us.toFixed(1)} µs per event (${count} events)`);
  void emitter.close().catch(() => undefined);
}

run('no outbox', undefined);
run('outbox, fsync every event', { path: join(dir, 'a.outbox'), syncMs: 0 });
run('outbox, fsync ≤ 100 ms', { path: join(dir, 'b.outbox'), syncMs: 100 });
rmSync(dir, { recursive: true, force: true });
process.exit(0);
