import type { PartitionBackoff } from './partition-backoff.js';
import type { BatchControl, ConsumedBatch, MessageHandler } from './transport.js';

/**
 * The batch loop around a per-record handler, shared by every adapter so `eachMessage` means the
 * same everywhere: records in order; `retry` pauses the partition (its own delay, or the partition's
 * backoff) and stops the batch; `processed` resets the backoff, resolves the record and heartbeats.
 */
export function messageLoop(
  handler: MessageHandler,
  backoff: PartitionBackoff,
): (batch: ConsumedBatch, control: BatchControl) => Promise<void> {
  return async (batch, control) => {
    const at = { topic: batch.topic, partition: batch.partition };
    for (const record of batch.records) {
      if (!control.isRunning() || control.isStale()) return;
      const outcome = await handler(record);
      if (outcome.kind === 'retry') {
        control.pause({ resumeAfterMs: outcome.retryAfterMs ?? backoff.nextDelayMs(at) });
        return;
      }
      backoff.reset(at);
      control.resolveOffset(record.offset);
      await control.heartbeat();
    }
  };
}
