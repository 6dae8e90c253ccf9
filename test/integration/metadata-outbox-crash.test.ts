/**
 * Metadata events queued by a process that dies (SIGKILL) are not lost (issue #14 item 7): the child
 * (test/support/metadata-emitter-child.ts) queues 500 events it cannot send and is killed; a new
 * emitter on the same outbox, with a real producer, sends them to the metadata topic, where the
 * `audit` identity's consumer receives every one of them exactly once (by eventId).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { MetadataEvent } from '../../src/events/metadata-event.js';
import {
  decodeMetadataEventBatch,
  METADATA_EVENTS_CONTENT_TYPE,
  MetadataEventEmitter,
} from '../../src/pipeline/metadata-event-emitter.js';
import { waitFor } from '../support/test-transport.js';
import { metadataToAudit, useScenario } from '../support/scenario.js';

const sc = useScenario({
  purpose: 'outbox-crash',
  clientId: 'metadata-outbox-crash',
  topics: 0,
  metadataTopic: true,
  services: metadataToAudit,
});
const { t } = sc;

const COUNT = 500;

describe('the metadata-event outbox', () => {
  it('delivers the events of a process killed with SIGKILL after queueing them', async () => {
    const outboxPath = join(sc.world.dir, 'orders-events.outbox');
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join('test', 'support', 'metadata-emitter-child.ts'),
        outboxPath,
        String(COUNT),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.once('exit', (_code, signal) => resolve(signal)),
    );
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
    await waitFor(() => out.includes('queued'), 'the child to queue its events', 60_000);
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');

    // The restarted service: same outbox, a producer that reaches the broker.
    const orders = await sc.producer('orders');
    const emitter = new MetadataEventEmitter({
      producer: orders.producer,
      topic: t.metadata,
      crypto: sc.world.crypto,
      clock: { nowMs: () => Date.now() },
      actor: 'orders',
      flushIntervalMs: 100,
      outboxPath,
    });
    await emitter.flush();
    await emitter.close();
    await orders.producer.close();

    const received: MetadataEvent[] = [];
    await sc.consumer('audit', {
      groupId: `audit-${t.metadata}`,
      topics: [t.metadata],
      rawContentTypes: [METADATA_EVENTS_CONTENT_TYPE],
      onMessage: (d) => {
        received.push(...(decodeMetadataEventBatch(d.value as Uint8Array) as MetadataEvent[]));
        return Promise.resolve();
      },
    });
    await waitFor(
      () => new Set(received.map((e) => e.eventId)).size >= COUNT,
      `${COUNT} events at the audit identity`,
      60_000,
    );
    const byPartition = new Map<number, number>();
    for (const e of new Map(received.map((x) => [x.eventId, x])).values())
      byPartition.set(e.partition!, (byPartition.get(e.partition!) ?? 0) + 1);
    expect(byPartition.size).toBe(COUNT);
    expect([...byPartition.values()].every((n) => n === 1)).toBe(true);
    expect(received.every((e) => e.type === 'session_opened' && e.actor === 'orders')).toBe(true);
  });
});
