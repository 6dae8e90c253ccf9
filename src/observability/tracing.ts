/**
 * OpenTelemetry tracing (docs/TRACING.md). The one module that touches `@opentelemetry/api`, an
 * optional peer dependency: it is loaded with a dynamic import by {@link loadTracing}, and when it is
 * not installed sealpost runs untraced ({@link NO_TRACING}). Nothing else in sealpost imports it.
 *
 * Spans carry non-secret attributes only: topic, partition, recipient count, suite and a coarse
 * outcome — never a record key, payload, sender, message id, kid or plaintext value. The producer's
 * span context travels inside the sealed body (docs/SPEC.md §2.1), so only recipients can link to it;
 * a clear `traceparent` header (never `tracestate` or `baggage`) is written only on request.
 */
import type * as OtelApi from '@opentelemetry/api';
import type { BodyTraceContext } from '../envelope/body.js';
import { ENVELOPE_SUITE, SPAN_ID_BYTES, TRACE_ID_BYTES } from '../envelope/constants.js';
import { fromHex, toHex } from '../keys/bytes.js';
import { systemClock, type Clock } from '../runtime/clock.js';

/** A clear Kafka header (the transport's shape). */
export interface TraceHeader {
  readonly key: string;
  readonly value: Buffer;
}

/** One record being sealed: its trace context goes into the body, its header (opt-in) in the clear. */
export interface SealTrace {
  /** The seal span's context for the body; undefined when untraced or the span context is invalid. */
  readonly traceContext: BodyTraceContext | undefined;
  /** `traceparent` for the clear headers, only with `clearTraceparentHeader`. */
  readonly header: TraceHeader | undefined;
  /** Ends the seal span (`sealed`, or the error's code). */
  end(error?: unknown): void;
}

/** One consumed record, from the start of its processing to its hand-out (or rejection). */
export interface ConsumeTrace {
  /** A record refused with this coarse class (docs/SPEC.md §5.1): a span without a parent. */
  rejected(coarse: string): void;
  /**
   * Runs the handler inside a CONSUMER span that is a child of the sender's span (the trace context
   * from the opened body, when it carried one); the handler's own spans nest under it.
   */
  handOut<T>(
    opened: {
      readonly traceContext?: BodyTraceContext;
      readonly recipientCount?: number;
      readonly suite?: number;
    },
    handler: () => Promise<T>,
  ): Promise<T>;
}

/** What the producer and consumer call; {@link NO_TRACING} when tracing is off. */
export interface SealpostTracing {
  /** False for {@link NO_TRACING}. */
  readonly enabled: boolean;
  /**
   * Runs one `send`/`sendRaw`/`resend` in a span (kind CLIENT: the per-record seal spans are the
   * PRODUCER spans) with `run`'s seal spans as its children. The outcome is `acknowledged` or the
   * error's code.
   */
  send<T>(topic: string, messageCount: number, run: () => Promise<T>): Promise<T>;
  /** Starts the span of sealing one record (kind PRODUCER), a child of the active send span. */
  seal(topic: string, partition: number, recipientCount: number, suite: number): SealTrace;
  /**
   * Runs a transport call outside any trace context, so a Kafka client instrumentation (e.g.
   * `@opentelemetry/instrumentation-kafkajs`) cannot put the application's trace id or baggage into
   * clear headers (docs/TRACING.md).
   */
  detached<T>(run: () => Promise<T>): Promise<T>;
  /** Starts tracing one consumed record (its start time; spans are made when the outcome is known). */
  consume(topic: string, partition: number): ConsumeTrace;
}

/** Options of {@link loadTracing}. */
export interface TracingOptions {
  /**
   * Where spans go. Default: the global tracer provider of `@opentelemetry/api` (what an SDK's
   * `register()` / NodeSDK `start()` sets).
   */
  readonly tracerProvider?: { getTracer(name: string, version?: string): unknown };
  /**
   * Also write the seal span's `traceparent` as a clear Kafka header (never `tracestate` or
   * `baggage`). Every reader of the topic then sees the trace id (docs/SPEC.md §8). Default false.
   */
  readonly clearTraceparentHeader?: boolean;
  /** Start times of consumer spans (default the system clock). */
  readonly clock?: Clock;
  /** How the API is loaded (tests pass a failing import to run as if it were not installed). */
  readonly importApi?: () => Promise<unknown>;
}

const TRACER_NAME = 'sealpost';
const TRACER_VERSION = '0.1.0';

const NO_SEAL: SealTrace = { traceContext: undefined, header: undefined, end: () => undefined };
const NO_CONSUME: ConsumeTrace = {
  rejected: () => undefined,
  handOut: (_opened, handler) => handler(),
};

/** Tracing off: every hook is a pass-through (the default of SealedProducer and SealedConsumer). */
export const NO_TRACING: SealpostTracing = {
  enabled: false,
  send: (_topic, _n, run) => run(),
  seal: () => NO_SEAL,
  detached: (run) => run(),
  consume: () => NO_CONSUME,
};

/**
 * Loads `@opentelemetry/api` (an optional peer dependency) and returns tracing bound to its global
 * tracer provider, or to `tracerProvider`. When the package is not installed, returns
 * {@link NO_TRACING}: sealpost works the same, untraced.
 */
export async function loadTracing(options: TracingOptions = {}): Promise<SealpostTracing> {
  let api: typeof OtelApi;
  try {
    api = (await (options.importApi ?? (() => import('@opentelemetry/api')))()) as typeof OtelApi;
  } catch (err) {
    if (isModuleNotFound(err)) return NO_TRACING;
    throw err;
  }
  return new OtelTracing(api, options);
}

function isModuleNotFound(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
}

/** A coarse outcome for an error: its code when it has one (sealpost's typed errors), else `error`. */
function outcomeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[A-Z][A-Z0-9_]{0,63}$/.test(code) ? code : 'error';
}

class OtelTracing implements SealpostTracing {
  readonly enabled = true;
  readonly #api: typeof OtelApi;
  readonly #tracer: OtelApi.Tracer;
  readonly #clearHeader: boolean;
  readonly #clock: Clock;

  constructor(api: typeof OtelApi, o: TracingOptions) {
    this.#api = api;
    this.#tracer =
      o.tracerProvider === undefined
        ? api.trace.getTracer(TRACER_NAME, TRACER_VERSION)
        : (o.tracerProvider.getTracer(TRACER_NAME, TRACER_VERSION) as OtelApi.Tracer);
    this.#clearHeader = o.clearTraceparentHeader ?? false;
    this.#clock = o.clock ?? systemClock;
  }

  #base(topic: string, operation: string, type: string): OtelApi.Attributes {
    return {
      'messaging.system': 'kafka',
      'messaging.destination.name': topic,
      'messaging.operation.name': operation,
      'messaging.operation.type': type,
    };
  }

  async send<T>(topic: string, messageCount: number, run: () => Promise<T>): Promise<T> {
    const api = this.#api;
    const span = this.#tracer.startSpan(`send ${topic}`, {
      kind: api.SpanKind.CLIENT,
      attributes: {
        ...this.#base(topic, 'send', 'send'),
        'messaging.batch.message_count': messageCount,
      },
    });
    try {
      const out = await api.context.with(api.trace.setSpan(api.context.active(), span), run);
      span.setAttribute('sealpost.outcome', 'acknowledged');
      return out;
    } catch (err) {
      fail(api, span, outcomeOf(err));
      throw err;
    } finally {
      span.end();
    }
  }

  seal(topic: string, partition: number, recipientCount: number, suite: number): SealTrace {
    const api = this.#api;
    const span = this.#tracer.startSpan(`seal ${topic}`, {
      kind: api.SpanKind.PRODUCER,
      attributes: {
        ...this.#base(topic, 'seal', 'create'),
        'messaging.destination.partition.id': String(partition),
        'sealpost.suite': suite,
        'sealpost.recipient_count': recipientCount,
      },
    });
    const sc = span.spanContext();
    const valid = api.isSpanContextValid(sc);
    const traceContext: BodyTraceContext | undefined = valid
      ? {
          traceId: fromHex(sc.traceId, TRACE_ID_BYTES),
          spanId: fromHex(sc.spanId, SPAN_ID_BYTES),
          traceFlags: sc.traceFlags & 0xff,
        }
      : undefined;
    const header =
      valid && this.#clearHeader
        ? {
            key: 'traceparent',
            value: Buffer.from(
              `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 0xff).toString(16).padStart(2, '0')}`,
            ),
          }
        : undefined;
    return {
      traceContext,
      header,
      end: (error?: unknown) => {
        if (error === undefined) span.setAttribute('sealpost.outcome', 'sealed');
        else fail(api, span, outcomeOf(error));
        span.end();
      },
    };
  }

  detached<T>(run: () => Promise<T>): Promise<T> {
    return this.#api.context.with(this.#api.ROOT_CONTEXT, run);
  }

  consume(topic: string, partition: number): ConsumeTrace {
    const startMs = this.#clock.nowMs();
    const api = this.#api;
    const tracer = this.#tracer;
    const attributes = {
      ...this.#base(topic, 'process', 'process'),
      'messaging.destination.partition.id': String(partition),
    };
    const name = `process ${topic}`;
    return {
      rejected: (coarse: string) => {
        const span = tracer.startSpan(
          name,
          { kind: api.SpanKind.CONSUMER, attributes, startTime: startMs },
          api.ROOT_CONTEXT,
        );
        fail(api, span, /^[A-Z_]{1,32}$/.test(coarse) ? coarse : 'error');
        span.end();
      },
      handOut: async <T>(
        opened: {
          readonly traceContext?: BodyTraceContext;
          readonly recipientCount?: number;
          readonly suite?: number;
        },
        handler: () => Promise<T>,
      ): Promise<T> => {
        const tc = opened.traceContext;
        // Child of the sender's seal span: the context is from the authenticated body, never from a
        // clear header (docs/TRACING.md, "Linking").
        const parent =
          tc === undefined
            ? api.ROOT_CONTEXT
            : api.trace.setSpanContext(api.ROOT_CONTEXT, {
                traceId: toHex(tc.traceId),
                spanId: toHex(tc.spanId),
                traceFlags: tc.traceFlags,
                isRemote: true,
              });
        const span = tracer.startSpan(
          name,
          {
            kind: api.SpanKind.CONSUMER,
            attributes: {
              ...attributes,
              'sealpost.suite': opened.suite ?? ENVELOPE_SUITE,
              ...(opened.recipientCount === undefined
                ? {}
                : { 'sealpost.recipient_count': opened.recipientCount }),
            },
            startTime: startMs,
          },
          parent,
        );
        try {
          const out = await api.context.with(api.trace.setSpan(parent, span), handler);
          span.setAttribute('sealpost.outcome', 'delivered');
          return out;
        } catch (err) {
          fail(api, span, 'handler-failed');
          throw err;
        } finally {
          span.end();
        }
      },
    };
  }
}

/** Marks a span failed with a coarse outcome; never the error's message (it may name anything). */
function fail(api: typeof OtelApi, span: OtelApi.Span, outcome: string): void {
  span.setAttribute('sealpost.outcome', outcome);
  span.setStatus({ code: api.SpanStatusCode.ERROR });
}

/** The span attribute `@opentelemetry/instrumentation-kafkajs` writes the record key into. */
export const KAFKAJS_RECORD_KEY_ATTRIBUTE = 'messaging.kafka.message.key';

/**
 * Hooks for `new KafkaJsInstrumentation({ ...KAFKAJS_INSTRUMENTATION_HOOKS })`: overwrite the record
 * key the instrumentation puts on each span before the span can be exported (docs/TRACING.md).
 */
export const KAFKAJS_INSTRUMENTATION_HOOKS = {
  producerHook: (span: { setAttribute(key: string, value: string): unknown }): void => {
    span.setAttribute(KAFKAJS_RECORD_KEY_ATTRIBUTE, 'redacted');
  },
  consumerHook: (span: { setAttribute(key: string, value: string): unknown }): void => {
    span.setAttribute(KAFKAJS_RECORD_KEY_ATTRIBUTE, 'redacted');
  },
} as const;
