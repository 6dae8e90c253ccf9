/**
 * An in-memory Transport for tests — the users' own (exported from `sealpost/testing`) and ours: the
 * port's contract (test/contract/transport-contract.ts runs against it and against the kafkajs
 * adapter on a real broker) on a single in-memory broker, with faults on demand through its
 * {@link InMemoryCluster}: failed sends and commits, a broker that is down, consumer crashes, forced
 * rebalances, and {@link InMemoryTransport.kill} for a process that dies (kill -9) with its clients.
 * Deterministic where it can be: time and delayed resumes come from the cluster's Scheduler (pass a
 * ManualScheduler to decide when they happen).
 */
import type { Transport, TransportConsumerOptions, TransportProducerOptions } from './transport.js';
import { InMemoryAdmin } from './in-memory/admin.js';
import { InMemoryCluster, type InMemoryClusterOptions } from './in-memory/cluster.js';
import { InMemoryConsumer } from './in-memory/consumer.js';
import { InMemoryProducer } from './in-memory/producer.js';

/** Options of {@link createInMemoryTransport}. */
export interface InMemoryTransportOptions {
  /** The cluster to connect to (several transports on one cluster are several processes). */
  readonly cluster?: InMemoryCluster;
  /** Options of a new cluster when none is given. */
  readonly clusterOptions?: InMemoryClusterOptions;
  /** Names this client's group members (their member ids start with it). Default `sealpost`. */
  readonly clientId?: string;
  /** Round-robin start per topic for null keys (as the kafkajs adapter's option). */
  readonly partitionerStart?: (topic: string) => number;
  /** Jitter source in [0, 1) for consumer retry backoff (as the kafkajs adapter's option). */
  readonly random?: () => number;
  /** Receives errors thrown by consumer event listeners (they never reach the consumer). */
  readonly onListenerError?: (err: unknown) => void;
}

/** A Transport on an in-memory cluster; see the module comment. */
export class InMemoryTransport implements Transport {
  readonly cluster: InMemoryCluster;
  readonly #o: InMemoryTransportOptions;
  readonly #consumers: InMemoryConsumer[] = [];
  #killed = false;

  constructor(options: InMemoryTransportOptions = {}) {
    this.#o = options;
    this.cluster = options.cluster ?? new InMemoryCluster(options.clusterOptions);
  }

  producer(options: TransportProducerOptions = {}): InMemoryProducer {
    return new InMemoryProducer(
      {
        cluster: this.cluster,
        partitionerStart: this.#o.partitionerStart,
        killed: () => this.#killed,
      },
      options,
    );
  }

  consumer(options: TransportConsumerOptions): InMemoryConsumer {
    const consumer = new InMemoryConsumer(
      {
        cluster: this.cluster,
        clientId: this.#o.clientId ?? 'sealpost',
        random: this.#o.random,
        onListenerError: this.#o.onListenerError ?? (() => undefined),
      },
      options,
    );
    if (this.#killed) consumer.kill();
    else this.#consumers.push(consumer);
    return consumer;
  }

  admin(): InMemoryAdmin {
    return new InMemoryAdmin(this.cluster, () => this.#killed);
  }

  /**
   * The process that holds this transport dies (kill -9): its consumers leave their groups at once
   * (no listener runs, nothing more is committed), and every later call of any of its clients fails
   * with NOT_CONNECTED. Other transports on the cluster carry on.
   */
  kill(): void {
    this.#killed = true;
    for (const c of this.#consumers.splice(0)) c.kill();
  }
}

/** A Transport on a new in-memory cluster (or on `options.cluster`). */
export function createInMemoryTransport(options: InMemoryTransportOptions = {}): InMemoryTransport {
  return new InMemoryTransport(options);
}
