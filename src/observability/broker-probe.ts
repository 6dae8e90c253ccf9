import { invalidArgument } from '../errors.js';
import { Gauge, type Registry } from 'prom-client';
import type { TransportAdmin } from '../kafka/transport.js';
import type { Clock } from '../runtime/clock.js';

/** Minimal structured logger (pino satisfies it). */
export interface ProbeLogger {
  warn(obj: object, msg?: string): void;
}

export interface BrokerProbeOptions {
  /** Makes the admin client the probe talks through (the worker's own Transport). */
  readonly admin: () => TransportAdmin;
  /** The consumer group whose lag is measured, and its topics. */
  readonly groupId: string;
  readonly topics: readonly string[];
  readonly clock: Clock;
  /** Health fails once this long has passed without a successful probe (from start, then from the last). */
  readonly unreachableAfterMs: number;
  /** Time between probes. Default a third of `unreachableAfterMs`, at most 5 s. */
  readonly intervalMs?: number;
  /** A probe that takes longer counts as failed. Default the interval. */
  readonly timeoutMs?: number;
  readonly registry: Registry;
  /** The lag gauge's name and help, e.g. `sealpost_dlq_lag_records`. */
  readonly lagMetric: { readonly name: string; readonly help: string };
  readonly logger?: ProbeLogger;
}

/**
 * A worker's view of its broker, for `/healthz` and `/metrics` (docs/OPERATIONS.md, "Metrics to
 * alert on"): every interval it asks the broker, through the worker's Transport admin, for the
 * topics' high watermarks and the group's committed offsets. A successful answer is broker contact;
 * lag is high watermark minus committed offset (minus the log start when nothing is committed),
 * summed over partitions — so lag grows while records wait, whether or not the worker fetches. With
 * no successful answer for `unreachableAfterMs`, health fails and the lag gauge keeps its last known
 * value beside `sealpost_broker_reachable 0`.
 */
export class BrokerProbe {
  readonly #o: BrokerProbeOptions;
  readonly #intervalMs: number;
  readonly #timeoutMs: number;
  #admin: TransportAdmin | undefined;
  #connected = false;
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> | undefined;
  #startedAtMs: number | undefined;
  #lastContactMs: number | null = null;
  #lastError: string | undefined;
  #lag: number | null = null;

  constructor(options: BrokerProbeOptions) {
    if (!(options.unreachableAfterMs > 0))
      throw invalidArgument('unreachableAfterMs must be positive');
    this.#o = options;
    this.#intervalMs =
      options.intervalMs ??
      Math.max(100, Math.min(5000, Math.floor(options.unreachableAfterMs / 3)));
    this.#timeoutMs = options.timeoutMs ?? this.#intervalMs;
    const lag = (): number | null => this.#lag;
    const reachable = (): boolean => this.reachable();
    const lastContact = (): number | null => this.#lastContactMs;
    new Gauge({
      name: options.lagMetric.name,
      help: options.lagMetric.help,
      registers: [options.registry],
      collect() {
        this.set(lag() ?? 0);
      },
    });
    new Gauge({
      name: 'sealpost_broker_reachable',
      help: '1 while the broker answered within the unreachable bound, else 0',
      registers: [options.registry],
      collect() {
        this.set(reachable() ? 1 : 0);
      },
    });
    new Gauge({
      name: 'sealpost_broker_last_contact_timestamp_seconds',
      help: 'Time of the last successful broker probe (0 before the first)',
      registers: [options.registry],
      collect() {
        const t = lastContact();
        this.set(t === null ? 0 : t / 1000);
      },
    });
  }

  /** Probes now, then every interval (the timer does not keep the process alive). */
  start(): void {
    if (this.#timer !== undefined) return;
    this.#startedAtMs = this.#o.clock.nowMs();
    void this.probeOnce();
    this.#timer = setInterval(() => void this.probeOnce(), this.#intervalMs);
    this.#timer.unref();
  }

  /** One probe (skipped while one is in flight); never rejects. */
  probeOnce(): Promise<void> {
    this.#inFlight ??= this.#probe().finally(() => (this.#inFlight = undefined));
    return this.#inFlight;
  }

  async #probe(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(Object.assign(new Error('broker probe timed out'), { code: 'PROBE_TIMEOUT' })),
        this.#timeoutMs,
      );
    });
    try {
      const lag = await Promise.race([this.#measure(), timeout]);
      this.#lag = lag;
      this.#lastContactMs = this.#o.clock.nowMs();
      this.#lastError = undefined;
    } catch (err) {
      const code = (err as { code?: string }).code ?? 'BROKER_PROBE_FAILED';
      if (this.#lastError !== code) this.#o.logger?.warn({ code }, 'broker probe failed');
      this.#lastError = code;
      // A fresh admin next time: kafkajs may hold a dead connection.
      const admin = this.#admin;
      this.#admin = undefined;
      this.#connected = false;
      if (admin !== undefined) void admin.disconnect().catch(() => undefined);
    } finally {
      clearTimeout(timer);
    }
  }

  async #measure(): Promise<number> {
    this.#admin ??= this.#o.admin();
    const admin = this.#admin;
    if (!this.#connected) {
      await admin.connect();
      this.#connected = true;
    }
    const committed = await admin.fetchCommittedOffsets(this.#o.groupId, this.#o.topics);
    const byPartition = new Map(committed.map((c) => [`${c.topic}/${c.partition}`, c.offset]));
    let lag = 0n;
    for (const topic of this.#o.topics) {
      for (const p of await admin.fetchTopicOffsets(topic)) {
        const c = byPartition.get(`${topic}/${p.partition}`);
        const from = c === undefined || BigInt(c) < 0n ? BigInt(p.low) : BigInt(c);
        const behind = BigInt(p.high) - from;
        if (behind > 0n) lag += behind;
      }
    }
    return Number(lag);
  }

  /** True while the last successful probe (or the start) is within `unreachableAfterMs`. */
  reachable(): boolean {
    const since = this.#lastContactMs ?? this.#startedAtMs;
    if (since === undefined) return false;
    return this.#o.clock.nowMs() - since <= this.#o.unreachableAfterMs;
  }

  /** The last measured lag (null before the first successful probe). */
  get lag(): number | null {
    return this.#lag;
  }

  /** For `/healthz`: ok while reachable, with the facts (never secrets). */
  health(): { ok: boolean; detail: Record<string, unknown> } {
    return {
      ok: this.reachable(),
      detail: {
        brokerReachable: this.reachable(),
        lastBrokerContactMs: this.#lastContactMs,
        lag: this.#lag,
        ...(this.#lastError === undefined ? {} : { brokerError: this.#lastError }),
      },
    };
  }

  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#inFlight;
    const admin = this.#admin;
    this.#admin = undefined;
    if (admin !== undefined && this.#connected) await admin.disconnect().catch(() => undefined);
    this.#connected = false;
  }
}
