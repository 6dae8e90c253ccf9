/**
 * Splits a sealed batch into chunks, each sent as one produce request whose estimated size stays under
 * `maxRequestBytes`: the broker refuses a record batch above its `message.max.bytes` (RECORD_TOO_LARGE)
 * even when every record in it fits. Requests and records keep their order (a request may be cut into
 * consecutive parts, so a chunk never reorders a partition); a record larger than the bound travels
 * alone and the broker decides. Also joins the chunks left after a failure back into one pending batch.
 */
import type { OutgoingRecord, ProduceRequest } from '../../kafka/transport.js';
import type { PipelineEvent } from '../metadata-sink.js';
import type { PendingSource, SealedBatch, SentMessage } from './producer-types.js';

/** Kafka's record framing (v2) at its largest: length, attributes, deltas, key/value lengths, header count. */
const RECORD_OVERHEAD_BYTES = 36;
/** A header's two length varints at their largest. */
const HEADER_OVERHEAD_BYTES = 10;
/** One partition's record batch header (61 bytes) and its topic/partition framing in the request. */
const PARTITION_OVERHEAD_BYTES = 80;
/** The produce request's own header and fields. */
const REQUEST_OVERHEAD_BYTES = 128;

/** An upper bound of the bytes `record` takes in a produce request without compression. */
export function estimatedRecordBytes(record: OutgoingRecord): number {
  let n = RECORD_OVERHEAD_BYTES + (record.key?.length ?? 0) + (record.value?.length ?? 0);
  for (const h of record.headers ?? [])
    n += HEADER_OVERHEAD_BYTES + Buffer.byteLength(h.key, 'utf8') + (h.value?.length ?? 0);
  return n;
}

/** The per-partition bytes of a request to `topic` besides its records. */
function partitionOverheadBytes(topic: string): number {
  return PARTITION_OVERHEAD_BYTES + Buffer.byteLength(topic, 'utf8');
}

/** One produce request's worth of a pending batch, with what `resend` needs for it. */
export interface RequestChunk {
  readonly pending: SealedBatch;
  readonly source: PendingSource | undefined;
}

/** A request's records [from, to) with their messages, stream and `sealed` events. */
interface Part {
  readonly request: ProduceRequest;
  readonly messages: readonly Omit<SentMessage, 'offset'>[];
  readonly stream: Uint8Array | undefined;
  readonly events: readonly PipelineEvent[];
}

function sliceRequest(
  pending: SealedBatch,
  source: PendingSource | undefined,
  i: number,
  from: number,
  to: number,
): Part {
  const request = pending.requests[i]!;
  const messages = pending.messages[i] ?? [];
  const events = source?.requestEvents[i] ?? [];
  const whole = from === 0 && to === request.records.length;
  return {
    request: whole
      ? request
      : {
          topic: request.topic,
          partition: request.partition,
          records: request.records.slice(from, to),
        },
    messages: whole ? messages : messages.slice(from, to),
    stream: source?.requestStreams[i],
    // One event per message when the producer reports events, none otherwise.
    events: whole || events.length !== messages.length ? events : events.slice(from, to),
  };
}

function chunkOf(parts: readonly Part[], source: PendingSource | undefined): RequestChunk {
  return {
    pending: { requests: parts.map((p) => p.request), messages: parts.map((p) => p.messages) },
    source:
      source === undefined
        ? undefined
        : {
            ...source,
            requestStreams: parts.map((p) => p.stream!),
            requestEvents: parts.map((p) => p.events),
          },
  };
}

/**
 * The chunks of `pending` in sending order: one (the batch itself) when it fits under `maxBytes`.
 * `pending.acknowledged` is not carried into the chunks (the caller keeps it).
 */
export function splitIntoChunks(
  pending: SealedBatch,
  source: PendingSource | undefined,
  maxBytes: number,
): RequestChunk[] {
  let total = REQUEST_OVERHEAD_BYTES;
  for (const r of pending.requests) {
    total += partitionOverheadBytes(r.topic);
    for (const rec of r.records) total += estimatedRecordBytes(rec);
  }
  if (total <= maxBytes) return [{ pending, source }];
  const chunks: RequestChunk[] = [];
  let parts: Part[] = [];
  let bytes = REQUEST_OVERHEAD_BYTES;
  pending.requests.forEach((request, i) => {
    const overhead = partitionOverheadBytes(request.topic);
    let from = 0;
    let open = false;
    request.records.forEach((record, j) => {
      const size = estimatedRecordBytes(record) + (open ? 0 : overhead);
      // A chunk holds at least one record, however large.
      const empty = parts.length === 0 && !open;
      if (!empty && bytes + size > maxBytes) {
        if (j > from) parts.push(sliceRequest(pending, source, i, from, j));
        chunks.push(chunkOf(parts, source));
        parts = [];
        bytes = REQUEST_OVERHEAD_BYTES + overhead + estimatedRecordBytes(record);
        from = j;
        open = true;
        return;
      }
      bytes += size;
      open = true;
    });
    if (request.records.length > from)
      parts.push(sliceRequest(pending, source, i, from, request.records.length));
  });
  if (parts.length > 0) chunks.push(chunkOf(parts, source));
  return chunks;
}

/**
 * The chunks not acknowledged, joined back into one pending batch (requests in sending order) that
 * also carries the results of what was acknowledged before, for `resend`.
 */
export function joinChunks(
  chunks: readonly RequestChunk[],
  acknowledged: readonly SentMessage[],
): RequestChunk {
  const requests = chunks.flatMap((c) => c.pending.requests);
  const messages = chunks.flatMap((c) => c.pending.messages);
  const first = chunks[0]?.source;
  const sources = chunks.map((c) => c.source);
  const source =
    first === undefined || sources.some((s) => s === undefined)
      ? undefined
      : {
          ...first,
          requestStreams: sources.flatMap((s) => s!.requestStreams),
          requestEvents: sources.flatMap((s) => s!.requestEvents),
        };
  return {
    pending:
      acknowledged.length === 0 ? { requests, messages } : { requests, messages, acknowledged },
    source,
  };
}
