/**
 * The tracing module (docs/TRACING.md): `@opentelemetry/api` is optional — without it sealpost runs
 * untraced — and only src/observability/tracing.ts loads it. The spans' attributes and the body's
 * trace context, with an in-memory exporter (no broker: the cross-broker test is
 * test/integration/tracing.test.ts).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { context, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  KAFKAJS_INSTRUMENTATION_HOOKS,
  loadTracing,
  NO_TRACING,
} from '../../../src/observability/tracing.js';
import { ManualClock } from '../../../src/runtime/clock.js';

const SRC = new URL('../../../src/', import.meta.url).pathname;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('@opentelemetry/api is an optional peer', () => {
  it('only src/observability/tracing.ts mentions it, and only as a type import or a dynamic import', () => {
    const users = sourceFiles(SRC)
      .filter((f) => readFileSync(f, 'utf8').includes("'@opentelemetry/"))
      .map((f) => relative(SRC, f));
    expect(users).toEqual(['observability/tracing.ts']);
    const text = readFileSync(join(SRC, 'observability/tracing.ts'), 'utf8');
    const imports = [...text.matchAll(/^import .*'@opentelemetry\/api';$/gm)].map((m) => m[0]);
    expect(imports).toEqual(["import type * as OtelApi from '@opentelemetry/api';"]);
    expect(text).toContain("import('@opentelemetry/api')");
  });

  it('without the package, loadTracing returns the no-op tracing, whose hooks pass through', async () => {
    const missing = Object.assign(new Error("Cannot find package '@opentelemetry/api'"), {
      code: 'ERR_MODULE_NOT_FOUND',
    });
    const tracing = await loadTracing({ importApi: () => Promise.reject(missing) });
    expect(tracing).toBe(NO_TRACING);
    expect(tracing.enabled).toBe(false);
    expect(await tracing.send('t', 1, () => Promise.resolve(42))).toBe(42);
    const seal = tracing.seal('t', 0, 2, 1);
    expect(seal.traceContext).toBeUndefined();
    expect(seal.header).toBeUndefined();
    seal.end();
    expect(await tracing.detached(() => Promise.resolve('x'))).toBe('x');
    const c = tracing.consume('t', 0);
    c.rejected('MALFORMED');
    expect(await c.handOut({}, () => Promise.resolve(7))).toBe(7);
  });

  it('any other import failure is not swallowed', async () => {
    const broken = Object.assign(new Error('syntax error in the package'), { code: 'EBROKEN' });
    await expect(loadTracing({ importApi: () => Promise.reject(broken) })).rejects.toBe(broken);
  });
});

describe('spans and the sealed trace context', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  beforeAll(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  });
  afterAll(async () => {
    context.disable();
    await provider.shutdown();
  });

  it('a seal span gives the body its context and, only on request, a clear traceparent', async () => {
    exporter.reset();
    for (const clear of [false, true]) {
      const tracing = await loadTracing({
        tracerProvider: provider,
        clearTraceparentHeader: clear,
      });
      let seal: ReturnType<typeof tracing.seal> | undefined;
      await tracing.send('orders', 1, () => {
        seal = tracing.seal('orders', 3, 2, 1);
        seal.end();
        return Promise.resolve();
      });
      const tc = seal!.traceContext!;
      const sealSpan = exporter.getFinishedSpans().find((s) => s.name === 'seal orders')!;
      expect(Buffer.from(tc.traceId).toString('hex')).toBe(sealSpan.spanContext().traceId);
      expect(Buffer.from(tc.spanId).toString('hex')).toBe(sealSpan.spanContext().spanId);
      expect(tc.traceFlags).toBe(1);
      expect(sealSpan.attributes).toEqual({
        'messaging.system': 'kafka',
        'messaging.destination.name': 'orders',
        'messaging.operation.name': 'seal',
        'messaging.operation.type': 'create',
        'messaging.destination.partition.id': '3',
        'sealpost.suite': 1,
        'sealpost.recipient_count': 2,
        'sealpost.outcome': 'sealed',
      });
      if (clear) {
        expect(seal!.header!.key).toBe('traceparent');
        expect(seal!.header!.value.toString()).toBe(
          `00-${sealSpan.spanContext().traceId}-${sealSpan.spanContext().spanId}-01`,
        );
      } else {
        expect(seal!.header).toBeUndefined();
      }
      exporter.reset();
    }
  });

  it('failures carry a coarse outcome and no error message', async () => {
    exporter.reset();
    const tracing = await loadTracing({ tracerProvider: provider });
    const secretMessage = 'a message naming a secret value';
    await expect(
      tracing.send('orders', 1, () =>
        Promise.reject(Object.assign(new Error(secretMessage), { code: 'SEND_FAILED' })),
      ),
    ).rejects.toThrow(secretMessage);
    const handlerError = new Error(secretMessage);
    const c = tracing.consume('orders', 1);
    await expect(c.handOut({}, () => Promise.reject(handlerError))).rejects.toBe(handlerError);
    tracing.consume('orders', 0).rejected('HEADER');
    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => [s.name, s.attributes['sealpost.outcome'], s.status.code])).toEqual([
      ['send orders', 'SEND_FAILED', 2],
      ['process orders', 'handler-failed', 2],
      ['process orders', 'HEADER', 2],
    ]);
    for (const s of spans) {
      expect(JSON.stringify([s.attributes, s.events, s.status])).not.toContain(secretMessage);
      expect(s.parentSpanContext).toBeUndefined();
    }
  });

  it("a process span starts when the record was taken up, is the child of the sealed context and names the record's suite", async () => {
    exporter.reset();
    const clock = new ManualClock(1_750_000_000_000);
    const tracing = await loadTracing({ tracerProvider: provider, clock });
    const c = tracing.consume('orders', 1);
    const traceId = Uint8Array.from({ length: 16 }, (_, i) => i + 1);
    const spanId = Uint8Array.from({ length: 8 }, (_, i) => i + 1);
    let active: string | undefined;
    await context.with(ROOT_CONTEXT, () =>
      c.handOut(
        { traceContext: { traceId, spanId, traceFlags: 1 }, recipientCount: 3, suite: 2 },
        () => {
          active = trace.getActiveSpan()?.spanContext().spanId;
          return Promise.resolve();
        },
      ),
    );
    const [span] = exporter.getFinishedSpans();
    expect(span!.spanContext().traceId).toBe(Buffer.from(traceId).toString('hex'));
    expect(span!.parentSpanContext?.spanId).toBe(Buffer.from(spanId).toString('hex'));
    expect(span!.parentSpanContext?.isRemote).toBe(true);
    expect(active).toBe(span!.spanContext().spanId);
    expect(span!.startTime).toEqual([1_750_000_000, 0]);
    expect(span!.attributes['sealpost.recipient_count']).toBe(3);
    // The opened record's suite (docs/SPEC.md §2.2), not a constant: this one was suite 2.
    expect(span!.attributes['sealpost.suite']).toBe(2);
    expect(span!.attributes['sealpost.outcome']).toBe('delivered');
  });

  it('the kafkajs instrumentation hooks overwrite the record-key attribute', () => {
    const attrs: Record<string, string> = { 'messaging.kafka.message.key': 'k-secret' };
    const span = { setAttribute: (k: string, v: string) => (attrs[k] = v) };
    KAFKAJS_INSTRUMENTATION_HOOKS.producerHook(span);
    expect(attrs['messaging.kafka.message.key']).toBe('redacted');
    attrs['messaging.kafka.message.key'] = 'k-secret';
    KAFKAJS_INSTRUMENTATION_HOOKS.consumerHook(span);
    expect(attrs['messaging.kafka.message.key']).toBe('redacted');
  });
});
