import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { apicurioReady, schemaRegistryUrl, startApicurio } from './apicurio.js';
import { ensureCertificates } from './certs.js';
import { recordedVaultToken, writeEnvFile } from './env-file.js';
import { apicurioJava, installApicurio, installKafka, installOpenbao } from './install.js';
import { kafkaReady, startKafka } from './kafka.js';
import { withStackLock } from './lock.js';
import {
  configureOpenbao,
  openbaoReady,
  openbaoTokenValid,
  startOpenbao,
  vaultAddr,
} from './openbao.js';
import { checkPrerequisites } from './prerequisites.js';
import {
  assertPortsFree,
  isPortOpen,
  runningPid,
  stopService,
  waitReady,
  type ServiceName,
} from './processes.js';
import { progress, StackError } from './progress.js';
import { stackDir, stackPaths } from './paths.js';
import { host, ports } from './versions.js';

/** What each service listens on and how its readiness is probed. */
const services: Record<
  ServiceName,
  { ports: readonly number[]; ready: () => Promise<boolean>; timeoutMs: number }
> = {
  openbao: { ports: [ports.openbao], ready: openbaoReady, timeoutMs: 60_000 },
  kafka: {
    ports: [ports.kafkaPlaintext, ports.kafkaSsl, ports.kafkaController],
    ready: async () => (await kafkaReady()) && (await isPortOpen(ports.kafkaSsl)),
    timeoutMs: 180_000,
  },
  apicurio: {
    ports: [ports.schemaRegistry, ports.schemaRegistryManagement],
    ready: apicurioReady,
    timeoutMs: 180_000,
  },
};

const order: readonly ServiceName[] = ['openbao', 'kafka', 'apicurio'];

/**
 * Installs what is missing and starts what is not running, then waits until every service answers
 * and writes `.stack/env`. A no-op (beyond the readiness checks) when everything already runs.
 */
export async function stackUp(): Promise<void> {
  const began = performance.now();
  const kafkaJava = checkPrerequisites();
  await withStackLock(async () => {
    mkdirSync(stackDir, { recursive: true });
    installKafka();
    installApicurio();
    installOpenbao();
    const registryJava = apicurioJava();
    ensureCertificates();

    const startedNow: ServiceName[] = [];
    const pids = new Map<ServiceName, number>();
    try {
      // OpenBao: the root token lives only in .stack/env; a server whose token we lost is restarted.
      let token = recordedVaultToken();
      if (
        runningPid('openbao') !== undefined &&
        (token === undefined || !(await waitTokenValid(token)))
      ) {
        progress('OpenBao runs with a root token that is not in .stack/env: restarting it');
        await stopService('openbao');
      }
      for (const name of order) {
        const pid = runningPid(name);
        if (pid !== undefined) pids.set(name, pid);
      }
      // Every port check before the first start: a taken port fails fast and starts nothing.
      const toStart = order.filter((name) => !pids.has(name));
      for (const name of toStart) await assertPortsFree(name, services[name].ports);
      for (const name of toStart) {
        if (name === 'openbao') {
          token = randomBytes(24).toString('hex');
          writeEnvFile(token); // written before the start so the token is never only in memory
          pids.set(name, startOpenbao(token));
        } else if (name === 'kafka') {
          pids.set(name, startKafka(kafkaJava));
        } else {
          pids.set(name, startApicurio(registryJava));
        }
        startedNow.push(name);
      }

      await Promise.all(
        order.map(async (name) => {
          const pid = pids.get(name)!;
          await waitReady(name, pid, services[name].ready, services[name].timeoutMs);
          progress(`${name} ready (pid ${pid})`);
        }),
      );
      if (token === undefined) throw new StackError('internal: no OpenBao token');
      await configureOpenbao(token);
      writeEnvFile(token);
    } catch (err) {
      // Leave nothing half-started behind: stop what this call started.
      for (const name of startedNow) await stopService(name).catch(() => undefined);
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

/** Stops every service this stack started (by pid, process group), waits for them, removes `.stack/env`. */
export async function stackDown(): Promise<void> {
  await withStackLock(async () => {
    const stopped = await Promise.all(order.map((name) => stopService(name)));
    rmSync(stackPaths.envFile, { force: true });
    const count = stopped.filter((p) => p !== undefined).length;
    progress(count === 0 ? 'nothing was running' : `stopped ${count} service(s)`);
    const others = processesUnderStack();
    if (others.length > 0) {
      progress(
        `note: processes not started by \`up\` still run from ${stackDir}: pids ${others.join(', ')}`,
      );
    }
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
  /** A port answers although this stack did not start the service. */
  portTakenByOther: boolean;
}

/** The state of each service: pid (if ours and alive), ports, readiness. */
export async function stackStatus(): Promise<ServiceStatus[]> {
  return Promise.all(
    order.map(async (name) => {
      const pid = runningPid(name);
      const ready = await services[name].ready().catch(() => false);
      const anyOpen = (await Promise.all(services[name].ports.map((p) => isPortOpen(p)))).some(
        Boolean,
      );
      return {
        name,
        pid,
        ports: services[name].ports,
        ready,
        portTakenByOther: pid === undefined && anyOpen,
      };
    }),
  );
}

/** Human-readable endpoints (no secrets). */
export const endpointsSummary = [
  `Kafka PLAINTEXT ${host}:${ports.kafkaPlaintext}, mTLS ${host}:${ports.kafkaSsl}`,
  `Schema Registry ${schemaRegistryUrl}`,
  `OpenBao ${vaultAddr}`,
];
