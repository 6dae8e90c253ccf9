import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { apicurioReady, schemaRegistryUrl, startApicurio } from './apicurio.js';
import { ensureCertificates } from './certs.js';
import { recordedVaultToken, writeEnvFile } from './env-file.js';
import { apicurioJava, installApicurio, installKafka, installOpenbao } from './install.js';
import {
  formatKafkaNodes,
  kafkaNodeFormatted,
  kafkaNodeReady,
  recordedCluster,
  recordNewCluster,
  stackKafkaNode,
  startKafkaNode,
  wipeKafkaData,
  type ClusterRecord,
  type KafkaNode,
} from './kafka.js';
import { withStackLock } from './lock.js';
import {
  configureOpenbao,
  openbaoAnswers,
  openbaoReady,
  openbaoTokenValid,
  persistentOpenbaoToken,
  recordedOpenbaoMode,
  startOpenbao,
  unsealOpenbao,
  vaultAddr,
  wipeOpenbaoData,
  type OpenbaoMode,
} from './openbao.js';
import { checkPrerequisites, type JavaRuntime } from './prerequisites.js';
import {
  assertPortsFree,
  isPortOpen,
  isStopped,
  killService,
  runningPid,
  signalService,
  stopService,
  waitReady,
  type ServiceName,
} from './processes.js';
import { progress, StackError } from './progress.js';
import { stackDir, stackPaths } from './paths.js';
import { host, MAX_BROKERS, parseBrokerCount, ports } from './versions.js';
import { postgresPort, postgresReady, startPostgres, stopPostgres } from './postgres.js';

/** Options of {@link stackUp}. */
export interface StackUpOptions {
  /**
   * Kafka nodes: 1 (default) or 3+. Unset: `SEALPOST_STACK_BROKERS`, else the size of the cluster the
   * stack recorded (a cluster keeps its data across `down`/`up`), else 1.
   */
  readonly brokers?: number;
  /** OpenBao storage: `dev` (in memory, default) or `persistent` (raft storage, unsealed by the stack). */
  readonly openbao?: OpenbaoMode;
  /**
   * Optional services to start too: `postgres` (unset: `SEALPOST_STACK_WITH`, a comma-separated
   * list). One that runs already is kept running by a later `up` without it.
   */
  readonly with?: readonly OptionalService[];
}

/** Services the stack starts only when asked (`up --with …`). */
export const OPTIONAL_SERVICES = ['postgres'] as const;
export type OptionalService = (typeof OPTIONAL_SERVICES)[number];

/** Parses `postgres` (or a comma-separated list) into optional services. */
export function parseOptionalServices(raw: string, source: string): OptionalService[] {
  const out: OptionalService[] = [];
  for (const name of raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')) {
    if (!(OPTIONAL_SERVICES as readonly string[]).includes(name))
      throw new StackError(
        `${source}: unknown optional service "${name}" (${OPTIONAL_SERVICES.join(', ')})`,
      );
    out.push(name as OptionalService);
  }
  return out;
}

/** The optional services `up` starts: explicit, else SEALPOST_STACK_WITH, plus any that runs. */
export function resolveOptionalServices(explicit?: readonly OptionalService[]): OptionalService[] {
  const asked =
    explicit ?? parseOptionalServices(process.env.SEALPOST_STACK_WITH ?? '', 'SEALPOST_STACK_WITH');
  const running = OPTIONAL_SERVICES.filter((name) => runningPid(name) !== undefined);
  return [...new Set([...asked, ...running])];
}

/** The broker count `up` uses (see {@link StackUpOptions.brokers}). */
export function resolveBrokerCount(explicit?: number): number {
  if (explicit !== undefined) return explicit;
  const env = process.env.SEALPOST_STACK_BROKERS ?? '';
  if (env !== '') return parseBrokerCount(env, 'SEALPOST_STACK_BROKERS');
  return recordedCluster()?.brokers ?? 1;
}

/** The OpenBao mode `up` uses: explicit, else `SEALPOST_STACK_OPENBAO`, else recorded, else dev. */
export function resolveOpenbaoMode(explicit?: OpenbaoMode): OpenbaoMode {
  if (explicit !== undefined) return explicit;
  const env = process.env.SEALPOST_STACK_OPENBAO ?? '';
  if (env === 'dev' || env === 'persistent') return env;
  if (env !== '')
    throw new StackError(`SEALPOST_STACK_OPENBAO must be "dev" or "persistent", got "${env}"`);
  return recordedOpenbaoMode() ?? 'dev';
}

/** The Kafka nodes of the recorded cluster (node 1 alone when nothing is recorded). */
export function kafkaNodes(brokers: number = recordedCluster()?.brokers ?? 1): KafkaNode[] {
  return Array.from({ length: brokers }, (_, i) => stackKafkaNode(i + 1, brokers));
}

function kafkaNodePorts(node: KafkaNode): number[] {
  const l = node.layout;
  return [l.plaintextPort, l.sslPort, l.controllerPort, l.faultListener!.internal];
}

/** Every Kafka service with a pid file that still runs (any node id, whatever the recorded size). */
function runningKafkaServices(): ServiceName[] {
  const out: ServiceName[] = [];
  for (let id = 1; id <= MAX_BROKERS; id++) {
    const name = stackKafkaNode(id, 1).service;
    if (runningPid(name) !== undefined) out.push(name);
  }
  return out;
}

interface Service {
  readonly name: ServiceName;
  readonly ports: readonly number[];
  readonly ready: () => Promise<boolean>;
  readonly timeoutMs: number;
}

function serviceTable(
  nodes: readonly KafkaNode[],
  openbaoMode: OpenbaoMode,
  optional: readonly OptionalService[] = [],
): Service[] {
  return [
    {
      name: 'openbao',
      ports: openbaoMode === 'dev' ? [ports.openbao] : [ports.openbao, ports.openbao + 1],
      // A persistent server answers (sealed or not initialised) before the stack unseals it.
      ready: openbaoMode === 'dev' ? openbaoReady : openbaoAnswers,
      timeoutMs: 60_000,
    },
    ...nodes.map((node) => ({
      name: node.service,
      ports: kafkaNodePorts(node),
      ready: async () => (await kafkaNodeReady(node)) && (await isPortOpen(node.layout.sslPort)),
      timeoutMs: 180_000,
    })),
    {
      name: 'apicurio',
      ports: [ports.schemaRegistry, ports.schemaRegistryManagement],
      ready: apicurioReady,
      timeoutMs: 180_000,
    },
    ...(optional.includes('postgres')
      ? [
          {
            name: 'postgres' as const,
            ports: [postgresPort],
            ready: postgresReady,
            timeoutMs: 60_000,
          },
        ]
      : []),
  ];
}

/**
 * Decides the cluster a start uses: a single broker gets a fresh cluster (and a freshly formatted log
 * directory) each time `up` starts it, as the in-memory registry and OpenBao start empty; a cluster
 * keeps its recorded id and data, unless its size changed (then every node's data is replaced).
 */
function clusterForStart(brokers: number): ClusterRecord {
  const recorded = recordedCluster();
  if (brokers === 1) return recordNewCluster(1);
  if (recorded !== undefined && recorded.brokers === brokers) return recorded;
  if (recorded !== undefined) {
    progress(
      `Kafka: the recorded cluster has ${recorded.brokers} node(s), ${brokers} asked: formatting a new cluster`,
    );
  }
  wipeKafkaData();
  return recordNewCluster(brokers);
}

/**
 * Installs what is missing and starts what is not running, then waits until every service answers
 * and writes `.stack/env`. A no-op (beyond the readiness checks) when everything already runs.
 */
export async function stackUp(options: StackUpOptions = {}): Promise<void> {
  const began = performance.now();
  const brokers = resolveBrokerCount(options.brokers);
  const openbaoMode = resolveOpenbaoMode(options.openbao);
  const optional = resolveOptionalServices(options.with);
  const kafkaJava = checkPrerequisites();
  await withStackLock(async () => {
    mkdirSync(stackDir, { recursive: true });
    installKafka();
    installApicurio();
    installOpenbao();
    const registryJava = apicurioJava();
    ensureCertificates();

    const nodes = kafkaNodes(brokers);
    const running = runningKafkaServices();
    const recorded = recordedCluster();
    if (running.length > 0 && recorded?.brokers !== brokers) {
      throw new StackError(
        `Kafka runs as ${running.join(', ')} (${recorded?.brokers ?? '?'} node(s)); ${brokers} asked. ` +
          'Stop it first with `npm run stack -- down` (a cluster keeps its data; `down --wipe` empties it).',
      );
    }
    const recordedMode = recordedOpenbaoMode();
    if (runningPid('openbao') !== undefined && (recordedMode ?? 'dev') !== openbaoMode) {
      progress(
        `OpenBao runs in ${recordedMode ?? 'dev'} mode, ${openbaoMode} asked: restarting it`,
      );
      await stopService('openbao');
    }
    const services = serviceTable(nodes, openbaoMode, optional);
    const cluster =
      running.length > 0 && recorded !== undefined ? recorded : clusterForStart(brokers);

    const startedNow: ServiceName[] = [];
    const pids = new Map<ServiceName, number>();
    try {
      // OpenBao: the root token lives only in .stack/env (dev) or in the init file (persistent); a dev
      // server whose token we lost is restarted.
      let token = openbaoMode === 'persistent' ? persistentOpenbaoToken() : recordedVaultToken();
      if (
        openbaoMode === 'dev' &&
        runningPid('openbao') !== undefined &&
        (token === undefined || !(await waitTokenValid(token)))
      ) {
        progress('OpenBao runs with a root token that is not in .stack/env: restarting it');
        await stopService('openbao');
      }
      for (const s of services) {
        const pid = runningPid(s.name);
        if (pid !== undefined) pids.set(s.name, pid);
      }
      // Every port check before the first start: a taken port fails fast and starts nothing.
      const toStart = services.filter((s) => !pids.has(s.name));
      for (const s of toStart) await assertPortsFree(s.name, s.ports);
      if (brokers > 1) {
        const nodesToStart = nodes.filter((n) => toStart.some((s) => s.name === n.service));
        await formatKafkaNodes(kafkaJava, nodesToStart, cluster);
      }
      for (const s of toStart) {
        if (s.name === 'openbao') {
          if (openbaoMode === 'dev') {
            token = randomBytes(24).toString('hex');
            writeEnvFile(token, nodes); // written before the start so the token is never only in memory
          }
          pids.set(s.name, startOpenbao(openbaoMode, token));
        } else if (s.name === 'apicurio') {
          pids.set(s.name, startApicurio(registryJava));
        } else if (s.name === 'postgres') {
          pids.set(s.name, await startPostgres());
        } else {
          const node = nodes.find((n) => n.service === s.name)!;
          const fresh = brokers === 1 && running.length === 0;
          pids.set(
            s.name,
            startKafkaNode(kafkaJava, node, cluster, fresh ? 'fresh' : 'if-missing'),
          );
        }
        startedNow.push(s.name);
      }

      await Promise.all(
        services.map(async (s) => {
          const pid = pids.get(s.name)!;
          await waitReady(s.name, pid, s.ready, s.timeoutMs);
          progress(`${s.name} ready (pid ${pid})`);
        }),
      );
      if (openbaoMode === 'persistent') token = await unsealOpenbao();
      if (token === undefined) throw new StackError('internal: no OpenBao token');
      await configureOpenbao(token);
      writeEnvFile(token, nodes);
    } catch (err) {
      // Leave nothing half-started behind: stop what this call started.
      await Promise.all(startedNow.map((name) => stopService(name).catch(() => undefined)));
      throw err;
    }
    const seconds = ((performance.now() - began) / 1000).toFixed(1);
    progress(
      startedNow.length === 0
        ? `already up (checked in ${seconds} s); endpoints in ${stackPaths.envFile}`
        : `up in ${seconds} s (started ${startedNow.join(', ')}); endpoints in ${stackPaths.envFile}`,
    );
  });
}

async function waitTokenValid(token: string): Promise<boolean> {
  // A server that is still starting answers nothing yet; give it a moment before judging the token.
  for (let i = 0; i < 40; i++) {
    if (await openbaoReady()) return openbaoTokenValid(token);
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

/**
 * Stops every service this stack started (by pid, process group; Kafka nodes in parallel so that each
 * one's controlled shutdown still finds a controller quorum), waits for them, removes `.stack/env`.
 * `wipe` then deletes the Kafka nodes' data and OpenBao's persistent storage.
 */
export async function stackDown(options: { wipe?: boolean } = {}): Promise<void> {
  await withStackLock(async () => {
    const names: ServiceName[] = ['openbao', ...runningKafkaServices(), 'apicurio'];
    const stopped = await Promise.all([...names.map((name) => stopService(name)), stopPostgres()]);
    rmSync(stackPaths.envFile, { force: true });
    const count = stopped.filter((p) => p !== undefined).length;
    progress(count === 0 ? 'nothing was running' : `stopped ${count} service(s)`);
    if (options.wipe === true) wipeData();
    const others = processesUnderStack();
    if (others.length > 0) {
      progress(
        `note: processes not started by \`up\` still run from ${stackDir}: pids ${others.join(', ')}`,
      );
    }
  });
}

function wipeData(): void {
  wipeKafkaData();
  wipeOpenbaoData();
  progress('wiped the Kafka nodes’ data and OpenBao’s persistent storage');
}

/** `stack wipe`: empties the Kafka data and OpenBao storage; refuses while any of them runs. */
export async function stackWipe(): Promise<void> {
  await withStackLock(() => {
    const running = [...runningKafkaServices(), ...(runningPid('openbao') ? ['openbao'] : [])];
    if (running.length > 0) {
      throw new StackError(
        `${running.join(', ')} still run: stop them first (\`npm run stack -- down --wipe\` does both)`,
      );
    }
    wipeData();
    return Promise.resolve();
  });
}

/** Parses `kafka-1` (an alias of `kafka`), `kafka-<n>`, `openbao`, `apicurio`. */
export function parseServiceName(raw: string): ServiceName {
  if (raw === 'openbao' || raw === 'apicurio' || raw === 'kafka') return raw;
  const m = /^kafka-([1-9]\d*)$/.exec(raw);
  if (m !== null) {
    const id = Number(m[1]);
    if (id <= MAX_BROKERS) return stackKafkaNode(id, 1).service;
  }
  throw new StackError(
    `unknown service "${raw}" (kafka, kafka-1..kafka-${MAX_BROKERS}, apicurio, openbao)`,
  );
}

function kafkaNodeOf(name: ServiceName): KafkaNode | undefined {
  const cluster = recordedCluster();
  return kafkaNodes(cluster?.brokers ?? 1).find((n) => n.service === name);
}

/** SIGKILLs a service (a crash: no controlled shutdown; a Kafka node keeps its data). */
export async function stackKill(name: ServiceName): Promise<number> {
  const pid = await killService(name);
  progress(`killed ${name} (pid ${pid}, SIGKILL)`);
  return pid;
}

/** SIGSTOPs (`pause`) or SIGCONTs (`resume`) a service's process group. */
export function stackPause(name: ServiceName, paused: boolean): number {
  const pid = signalService(name, paused ? 'SIGSTOP' : 'SIGCONT');
  progress(`${paused ? 'paused' : 'resumed'} ${name} (pid ${pid})`);
  return pid;
}

/**
 * Restarts one service: stops it (SIGTERM, then SIGKILL after the grace) when it runs, starts it again
 * and waits until it is ready. A Kafka node keeps its data (a single broker too: only `up` formats
 * it afresh); a persistent OpenBao is unsealed again and keeps its keys; a dev OpenBao comes back empty
 * with a new root token (and `.stack/env` is rewritten).
 */
export async function stackRestart(name: ServiceName): Promise<number> {
  return withStackLock(async () => {
    const began = performance.now();
    await stopService(name);
    let pid: number;
    if (name === 'apicurio') {
      pid = startApicurio(apicurioJava());
      await waitReady(name, pid, apicurioReady, 180_000);
    } else if (name === 'openbao') {
      const mode = recordedOpenbaoMode() ?? 'dev';
      let token = mode === 'dev' ? randomBytes(24).toString('hex') : persistentOpenbaoToken();
      if (mode === 'dev') writeEnvFile(token!, kafkaNodes());
      pid = startOpenbao(mode, token);
      await waitReady(name, pid, mode === 'dev' ? openbaoReady : openbaoAnswers, 60_000);
      if (mode === 'persistent') token = await unsealOpenbao();
      await configureOpenbao(token!);
      writeEnvFile(token!, kafkaNodes());
    } else {
      const node = kafkaNodeOf(name);
      const cluster = recordedCluster();
      if (node === undefined || cluster === undefined || !kafkaNodeFormatted(node))
        throw new StackError(`${name} is not a node of the recorded cluster: run \`up\` instead`);
      pid = startKafkaNode(checkPrerequisites(), node, cluster, 'if-missing');
      await waitReady(name, pid, () => kafkaNodeReady(node), 180_000);
    }
    progress(`${name} restarted and ready in ${((performance.now() - began) / 1000).toFixed(1)} s`);
    return pid;
  });
}

/** Pids of live processes whose command line names `.stack/` (e.g. a test's private OpenBao). */
export function processesUnderStack(): number[] {
  const found: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return found;
  }
  for (const entry of entries) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z') continue;
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(stackDir))
        found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** One line of `status`. */
export interface ServiceStatus {
  name: ServiceName;
  pid: number | undefined;
  ports: readonly number[];
  ready: boolean;
  /** Stopped by `stack pause` (SIGSTOP). */
  paused: boolean;
  /** A port answers although this stack did not start the service. */
  portTakenByOther: boolean;
}

/** The state of each service: pid (if ours and alive), ports, readiness. */
export async function stackStatus(): Promise<ServiceStatus[]> {
  const services = serviceTable(kafkaNodes(), recordedOpenbaoMode() ?? 'dev', [
    ...resolveOptionalServices([]),
  ]);
  return Promise.all(
    services.map(async (s) => {
      const pid = runningPid(s.name);
      const paused = pid !== undefined && isStopped(pid);
      const ready = !paused && (await s.ready().catch(() => false));
      const anyOpen = (await Promise.all(s.ports.map((p) => isPortOpen(p)))).some(Boolean);
      return {
        name: s.name,
        pid,
        ports: s.ports,
        ready,
        paused,
        portTakenByOther: pid === undefined && anyOpen,
      };
    }),
  );
}

/** Human-readable endpoints (no secrets). */
export function endpointsSummary(): string[] {
  const nodes = kafkaNodes();
  return [
    `Kafka PLAINTEXT ${nodes.map((n) => `${host}:${n.layout.plaintextPort}`).join(',')}, mTLS ${nodes.map((n) => `${host}:${n.layout.sslPort}`).join(',')}`,
    `Schema Registry ${schemaRegistryUrl}`,
    `OpenBao ${vaultAddr} (${recordedOpenbaoMode() ?? 'dev'})`,
    ...(runningPid('postgres') === undefined
      ? []
      : [
          `PostgreSQL ${host}:${postgresPort} (URL with password: SEALPOST_TEST_POSTGRES_URL in the env file)`,
        ]),
  ];
}

export type { JavaRuntime };
