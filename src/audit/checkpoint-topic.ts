import { SealpostError, type ErrorCodeTable } from '../errors.js';
import type { Transport } from '../kafka/transport.js';
import { checkpointFromJson, type AuditCheckpoint } from './audit-checkpoint.js';

export const CHECKPOINT_TOPIC_ERROR_CODES = {
  CHECKPOINT_TOPIC_TIMEOUT: 'yes',
} as const satisfies ErrorCodeTable;

export class CheckpointTopicError extends SealpostError {
  declare readonly code: keyof typeof CHECKPOINT_TOPIC_ERROR_CODES;
  constructor(message: string) {
    super('CHECKPOINT_TOPIC_TIMEOUT', message, { retriable: true });
  }
}

/**
 * Reads every checkpoint published on the checkpoint topic, up to its current end: the JSON
 * checkpoints, and the C2SP checkpoint notes published beside them (docs/AUDIT.md) in `notes`.
 * Records that are neither are returned in `malformed` (by offset) rather than ignored silently;
 * signatures are checked by the verifier, not here.
 */
export async function readPublishedCheckpoints(
  transport: Transport,
  topic: string,
  options: { readonly groupId: string; readonly timeoutMs?: number },
): Promise<{ checkpoints: AuditCheckpoint[]; malformed: string[]; notes: string[] }> {
  const admin = transport.admin();
  await admin.connect();
  let ends: Map<number, bigint>;
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    ends = new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
  } finally {
    await admin.disconnect();
  }
  const pending = new Set([...ends].filter(([, high]) => high > 0n).map(([p]) => p));
  const checkpoints: AuditCheckpoint[] = [];
  const malformed: string[] = [];
  const notes: string[] = [];
  if (pending.size === 0) return { checkpoints, malformed, notes };
  const consumer = transport.consumer({ groupId: options.groupId });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    let done!: () => void;
    const finished = new Promise<void>((resolve) => (done = resolve));
    await consumer.run({
      eachMessage: (r) => {
        let parsed: AuditCheckpoint | null = null;
        try {
          parsed =
            r.value === null ? null : checkpointFromJson(JSON.parse(r.value.toString('utf8')));
        } catch {
          parsed = null;
        }
        const text = r.value?.toString('utf8');
        if (parsed) checkpoints.push(parsed);
        else if (text !== undefined && text.includes('\n\n\u2014 ')) notes.push(text);
        else malformed.push(`${r.partition}:${r.offset}`);
        if (BigInt(r.offset) + 1n >= (ends.get(r.partition) ?? 0n)) {
          pending.delete(r.partition);
          if (pending.size === 0) done();
        }
        return Promise.resolve({ kind: 'processed' as const });
      },
    });
    const timeoutMs = options.timeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const outcome = await Promise.race([finished.then(() => 'ok' as const), timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      throw new CheckpointTopicError(
        `reading checkpoint topic ${topic} took longer than ${timeoutMs} ms`,
      );
    }
  } finally {
    await consumer.disconnect();
  }
  return { checkpoints, malformed, notes };
}
