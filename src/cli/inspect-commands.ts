import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { EnvelopeError } from '../envelope/errors.js';
import { inspectEnvelope, type EnvelopeStructure } from '../envelope/inspect-envelope.js';
import type { ConsumedRecord, Transport } from '../kafka/transport.js';
import {
  badInput,
  cliContext,
  cliTransport,
  iso,
  parseCount,
  parseDuration,
  print,
  withHints,
} from './cli-support.js';
import { CliExit } from './program.js';
import { EXIT, type CliIo } from './output.js';

/** Largest ciphertext `inspect` accepts by default (a safety bound on declared lengths). */
export const INSPECT_MAX_CIPHERTEXT_BYTES = 64 * 1024 * 1024;

/** The structure of a value, or why it is not an envelope. Never decrypts. */
export type EnvelopeView =
  | { readonly envelope: true; readonly structure: EnvelopeStructure }
  | { readonly envelope: false; readonly code: string; readonly reason: string };

/** Decodes a record value's envelope structure (no keys, no config). */
export function viewEnvelope(
  value: Uint8Array | null,
  maxCiphertextBytes = INSPECT_MAX_CIPHERTEXT_BYTES,
): EnvelopeView {
  if (value === null)
    return { envelope: false, code: 'NO_VALUE', reason: 'the record has no value (tombstone)' };
  try {
    return { envelope: true, structure: inspectEnvelope(value, { maxCiphertextBytes }) };
  } catch (err) {
    if (err instanceof EnvelopeError) {
      return {
        envelope: false,
        code: err.code,
        reason: `not a sealpost envelope (${err.code}): ${describeNonEnvelope(value)}`,
      };
    }
    throw err;
  }
}

/** A hint of what the bytes are instead — never their content. */
function describeNonEnvelope(value: Uint8Array): string {
  if (value.length === 0) return 'the value is empty';
  if (value[0] === 0x7b || value[0] === 0x5b) return `${value.length} bytes that start like JSON`;
  if (value[0] !== 0) return `${value.length} bytes without the Confluent magic byte 0x00`;
  return `${value.length} bytes in Confluent framing that do not decode as schemas/envelope.avsc`;
}

/**
 * The rows of an envelope structure, in display order (shared by `inspect`, `quarantine show` and the
 * console's quarantine entry page). `kidIndent` is put before each `kid[i]` label.
 */
export function structureRows(s: EnvelopeStructure, kidIndent = ''): [string, string | number][] {
  return [
    ['version', s.version],
    ['suite', s.suite],
    ['schema id', s.schemaId],
    ['session id', s.sessionId],
    ['namespace', s.namespace],
    ['topic', s.topic],
    ['recipients', s.recipientKids.length],
    ...s.recipientKids.map((k, i): [string, string] => [`${kidIndent}kid[${i}]`, k]),
    ['commitment', s.commitment],
    ['seq', s.seq],
    ['nonce', s.nonce],
    ['tags', s.tagCount],
    ['size total', s.sizes.total],
    ['size header', s.sizes.header],
    ['size private part', s.sizes.privatePart],
    ['size ciphertext', s.sizes.ciphertext],
    ['padded length', s.sizes.paddedLength],
  ];
}

/** `key: value` lines for an envelope structure (the text form shared with `quarantine show`). */
export function structureLines(s: EnvelopeStructure): string {
  return keyValueLines(structureRows(s, '  '));
}

/** Aligned `key  value` lines. */
export function keyValueLines(
  rows: readonly (readonly [string, string | number | boolean | null])[],
): string {
  const width = Math.max(...rows.map(([k]) => k.length));
  return (
    rows.map(([k, v]) => `${k.padEnd(width)}  ${v === null ? '' : String(v)}`).join('\n') + '\n'
  );
}

/**
 * Reads the one record at topic/partition/offset with a throwaway consumer group, waiting at most
 * `timeoutMs` (or until `signal` aborts). Throws a usage error when the offset is not in the partition.
 */
export async function readOneRecord(
  transport: Transport,
  at: { topic: string; partition: number; offset: bigint },
  options: { timeoutMs: number; groupId: string; signal?: AbortSignal },
): Promise<ConsumedRecord> {
  const admin = transport.admin();
  await admin.connect();
  let low: bigint;
  let high: bigint;
  try {
    const offsets = await admin.fetchTopicOffsets(at.topic);
    const p = offsets.find((o) => o.partition === at.partition);
    if (p === undefined)
      throw badInput(
        `topic ${at.topic} has no partition ${at.partition} (it has ${offsets.length})`,
      );
    low = BigInt(p.low);
    high = BigInt(p.high);
  } finally {
    await admin.disconnect();
  }
  if (at.offset < low || at.offset >= high) {
    throw badInput(
      `no record at ${at.topic}/${at.partition}@${at.offset}: the partition holds offsets ${low}..${high - 1n}`,
    );
  }
  const consumer = transport.consumer({ groupId: options.groupId, maxWaitTimeMs: 200 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [at.topic], fromBeginning: true });
    let found: ConsumedRecord | undefined;
    let resolveFound!: () => void;
    const done = new Promise<void>((r) => (resolveFound = r));
    await consumer.run({
      eachBatch: (batch, control) => {
        for (const r of batch.records) {
          if (
            batch.partition === at.partition &&
            BigInt(r.offset) === at.offset &&
            found === undefined
          ) {
            found = r;
            resolveFound();
          }
          control.resolveOffset(r.offset);
        }
        return Promise.resolve();
      },
    });
    // Jump straight to the record; were the seek lost to the first assignment, reading from the start still finds it.
    try {
      consumer.seek({ topic: at.topic, partition: at.partition }, at.offset.toString());
    } catch {
      // not assigned yet: the fromBeginning read covers it
    }
    let timer: NodeJS.Timeout | undefined;
    const stop = new Promise<'timeout' | 'aborted'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), options.timeoutMs);
      options.signal?.addEventListener('abort', () => resolve('aborted'), { once: true });
    });
    const outcome = await Promise.race([done.then(() => 'found' as const), stop]);
    clearTimeout(timer);
    if (outcome === 'found' && found !== undefined) return found;
    if (outcome === 'aborted') throw new CliExit(130);
    throw badInput(
      `no record read from ${at.topic}/${at.partition}@${at.offset} within ${options.timeoutMs} ms — raise --timeout`,
    );
  } finally {
    await consumer.disconnect();
  }
}

/** Record-level facts shown next to the envelope (header names only: values may be large or binary). */
function recordFacts(r: ConsumedRecord): Record<string, unknown> {
  return {
    topic: r.topic,
    partition: r.partition,
    offset: r.offset,
    timestamp: iso(r.timestampMs),
    keyBytes: r.key === null ? null : r.key.length,
    valueBytes: r.value === null ? null : r.value.length,
    headers: r.headers.map((h) => h.key),
  };
}

interface InspectOpts {
  file?: string;
  topic?: string;
  partition?: string;
  offset?: string;
  timeout: string;
  maxCiphertextBytes?: string;
  json?: boolean;
}

/** `sealpost inspect`: an envelope's structure from a topic/partition/offset or a file, with no keys. */
export function registerInspectCommand(program: Command, io: CliIo): void {
  program
    .command('inspect')
    .description(
      "Show a record's envelope structure (version, suite, session, recipients' kids, sizes, seq) — no keys, never decrypts",
    )
    .option('--file <path>', 'raw record value bytes (`-` for stdin)')
    .option('--topic <topic>', 'read the record from this topic …')
    .option('--partition <n>', '… partition …')
    .option('--offset <n>', '… and offset')
    .option('--timeout <duration>', 'how long to wait for the record', '15s')
    .option(
      '--max-ciphertext-bytes <n>',
      'refuse larger declared ciphertexts',
      String(INSPECT_MAX_CIPHERTEXT_BYTES),
    )
    .option('--json', 'output as JSON')
    .addHelpText(
      'after',
      '\nExample:\n  sealpost inspect --topic orders.v1 --partition 0 --offset 42\n  sealpost inspect --file record.bin --json',
    )
    .action(async (opts: InspectOpts) => {
      const maxCt = parseCount(
        opts.maxCiphertextBytes ?? String(INSPECT_MAX_CIPHERTEXT_BYTES),
        '--max-ciphertext-bytes',
        2 ** 31,
      );
      const fromTopic =
        opts.topic !== undefined || opts.partition !== undefined || opts.offset !== undefined;
      if (fromTopic === (opts.file !== undefined))
        throw badInput(
          'give either --file F (or - for stdin) or --topic T --partition P --offset O',
        );
      let value: Uint8Array | null;
      let facts: Record<string, unknown>;
      if (opts.file !== undefined) {
        if (opts.file === '-') {
          if (io.stdin === undefined) throw badInput('--file -: no standard input');
          value = await io.stdin.readAll();
        } else {
          const path = opts.file;
          try {
            value = await readFile(resolve(io.cwd, path));
          } catch (err) {
            throw badInput(
              `--file: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
            );
          }
        }
        facts = { file: opts.file, valueBytes: value.length };
      } else {
        if (opts.topic === undefined || opts.partition === undefined || opts.offset === undefined) {
          throw badInput('--topic, --partition and --offset go together');
        }
        const partition = parseCount(opts.partition, '--partition', 1_000_000);
        const offset = BigInt(parseCount(opts.offset, '--offset'));
        const timeoutMs = parseDuration(opts.timeout, '--timeout');
        const ctx = await cliContext(io);
        const groupId = `sealpost-inspect-${Buffer.from(ctx.crypto.randomBytes(6)).toString('hex')}`;
        const topic = opts.topic;
        const record = await withHints(ctx.config, () =>
          readOneRecord(
            cliTransport(ctx, 'sealpost-inspect'),
            { topic, partition, offset },
            { timeoutMs, groupId, ...(io.signal === undefined ? {} : { signal: io.signal }) },
          ),
        );
        value = record.value;
        facts = recordFacts(record);
      }
      const view = viewEnvelope(value, maxCt);
      print(io, opts.json, { record: facts, ...view }, () =>
        view.envelope ? structureLines(view.structure) : '',
      );
      if (!view.envelope) {
        io.err(`error: ${view.reason}\n`);
        throw new CliExit(EXIT.FAILED);
      }
    });
}
