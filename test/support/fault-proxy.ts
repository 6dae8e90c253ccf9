/**
 * A TCP fault proxy in front of one real service port: latency, a bandwidth cap, slicing (every
 * chunk written in small pieces, so the client sees split reads), a blackhole (bytes are swallowed,
 * connections stay open — a partition as TCP sees it), connection resets (RST) and stop/start.
 * Each fault can be changed while connections run; it applies to both directions.
 *
 * Kafka clients follow the brokers' advertised addresses, so a proxy on the bootstrap address alone
 * would be bypassed after the first metadata answer. The stack gives every broker a FAULT listener
 * that binds `faultInternal` and advertises `faultAdvertised` (stack/versions.ts kafkaNodePorts):
 * {@link brokerFaultProxies} puts one proxy on each `faultAdvertised` port forwarding to that broker's
 * `faultInternal`, and a client bootstrapped on the advertised ports reaches every broker — leader
 * changes included — only through the proxies (README, "Local stack").
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { kafkaNodes } from '../../stack/stack.js';

/** The faults a proxy applies now (all off by default). */
export interface Faults {
  /** Added to every chunk, each direction (order kept). */
  latencyMs: number;
  /** Cap per connection and direction, bytes per second (0: none). */
  bytesPerSecond: number;
  /** Write each chunk in pieces of at most this many bytes, one per event-loop turn (0: whole). */
  sliceBytes: number;
  /** Swallow every byte both ways; connections stay open. */
  blackhole: boolean;
}

const noFaults = (): Faults => ({
  latencyMs: 0,
  bytesPerSecond: 0,
  sliceBytes: 0,
  blackhole: false,
});

/** One direction of one connection: a queue drained in order with the proxy's current faults. */
class Pump {
  readonly #queue: { chunk: Buffer; dueAt: number }[] = [];
  #queued = 0;
  #running = false;
  #nextFreeAt = 0;

  constructor(
    private readonly from: Socket,
    private readonly to: Socket,
    private readonly faults: () => Faults,
  ) {
    from.on('data', (chunk: Buffer) => {
      const f = this.faults();
      if (f.blackhole) return;
      this.#queue.push({ chunk, dueAt: performance.now() + f.latencyMs });
      this.#queued += chunk.length;
      if (this.#queued > 4 * 1024 * 1024) from.pause();
      void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      while (this.#queue.length > 0 && !this.to.destroyed) {
        const item = this.#queue[0]!;
        const wait = item.dueAt - performance.now();
        if (wait > 0) await sleep(wait);
        const f = this.faults();
        if (f.blackhole) {
          this.#dequeue();
          continue;
        }
        if (f.bytesPerSecond > 0) {
          const now = performance.now();
          const start = Math.max(now, this.#nextFreeAt);
          this.#nextFreeAt = start + (item.chunk.length / f.bytesPerSecond) * 1000;
          if (this.#nextFreeAt - now > 1) await sleep(this.#nextFreeAt - now);
        }
        const size = f.sliceBytes > 0 ? f.sliceBytes : item.chunk.length;
        for (let off = 0; off < item.chunk.length && !this.to.destroyed; off += size) {
          this.to.write(item.chunk.subarray(off, off + size));
          if (size < item.chunk.length) await new Promise((r) => setImmediate(r));
        }
        this.#dequeue();
      }
    } finally {
      this.#running = false;
    }
  }

  #dequeue(): void {
    const item = this.#queue.shift()!;
    this.#queued -= item.chunk.length;
    if (this.#queued < 1024 * 1024 && this.from.isPaused()) this.from.resume();
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A fault proxy on `listenPort` (0: any free port) forwarding to `targetHost:targetPort`. */
export class FaultProxy {
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();
  readonly faults: Faults = noFaults();
  port: number;
  /** Connections accepted since the start (a client that reconnects shows here). */
  accepted = 0;

  constructor(
    readonly targetHost: string,
    readonly targetPort: number,
    listenPort = 0,
  ) {
    this.port = listenPort;
  }

  async start(): Promise<void> {
    const server = createServer((client) => {
      this.accepted++;
      const upstream = connect(this.targetPort, this.targetHost);
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.setNoDelay(true);
        s.on('close', () => {
          this.#sockets.delete(s);
          client.destroy();
          upstream.destroy();
        });
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      new Pump(client, upstream, () => this.faults);
      new Pump(upstream, client, () => this.faults);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as { port: number }).port;
    this.#server = server;
  }

  /** Changes faults now (also for open connections). */
  set(faults: Partial<Faults>): void {
    Object.assign(this.faults, faults);
  }

  /** Every fault off. */
  heal(): void {
    Object.assign(this.faults, noFaults());
  }

  /** Resets every open connection (TCP RST to both sides); new connections are accepted. */
  reset(): number {
    const n = this.#sockets.size;
    for (const s of this.#sockets) s.resetAndDestroy();
    return n;
  }

  /** Open sockets (both sides count). */
  get openSockets(): number {
    return this.#sockets.size;
  }

  /** Stops listening and cuts every connection (start() again on the same port). */
  async stop(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    const server = this.#server;
    this.#server = undefined;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** One fault proxy per broker of the stack's cluster, on the FAULT listener's advertised ports. */
export interface BrokerFaultProxies {
  /** Bootstrap list through the proxies (every broker's advertised FAULT address). */
  readonly brokers: string[];
  /** Node id → its proxy. */
  readonly byNode: ReadonlyMap<number, FaultProxy>;
  /** Applies faults to every broker's proxy. */
  set(faults: Partial<Faults>): void;
  heal(): void;
  reset(): number;
  stop(): Promise<void>;
}

/** Starts one {@link FaultProxy} per broker of the recorded stack cluster (see the file comment). */
export async function brokerFaultProxies(): Promise<BrokerFaultProxies> {
  const byNode = new Map<number, FaultProxy>();
  for (const node of kafkaNodes()) {
    const f = node.layout.faultListener!;
    const proxy = new FaultProxy('127.0.0.1', f.internal, f.advertised);
    await proxy.start();
    byNode.set(node.id, proxy);
  }
  const all = [...byNode.values()];
  return {
    brokers: all.map((p) => `127.0.0.1:${p.port}`),
    byNode,
    set: (faults) => all.forEach((p) => p.set(faults)),
    heal: () => all.forEach((p) => p.heal()),
    reset: () => all.reduce((n, p) => n + p.reset(), 0),
    stop: async () => {
      await Promise.all(all.map((p) => p.stop()));
    },
  };
}
