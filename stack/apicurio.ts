import { join } from 'node:path';
import { progress } from './progress.js';
import { stackPaths } from './paths.js';
import { spawnService } from './processes.js';
import { host, ports, versions } from './versions.js';
import type { JavaRuntime } from './prerequisites.js';

/** The Confluent-compatible API of the registry. */
export const schemaRegistryUrl = `http://${host}:${ports.schemaRegistry}/apis/ccompat/v7`;

/** Starts Apicurio Registry (Quarkus fast-jar, in-memory storage) detached. Returns its pid. */
export function startApicurio(java: JavaRuntime): number {
  progress(
    `starting Apicurio Registry ${versions.apicurio} (java ${java.major}) on ${host}:${ports.schemaRegistry}`,
  );
  return spawnService({
    name: 'apicurio',
    command: java.java,
    args: [
      '-Xmx512m',
      '-Xms64m',
      '-XX:+UseSerialGC',
      '-Dsealpost.stack=apicurio',
      '-jar',
      join(stackPaths.apicurioApp, 'quarkus-run.jar'),
    ],
    cwd: stackPaths.apicurioApp,
    env: {
      ...process.env,
      QUARKUS_HTTP_HOST: host,
      QUARKUS_HTTP_PORT: String(ports.schemaRegistry),
      // Its management interface (health, metrics) is fixed on at build time; keep it on loopback and
      // off the common port 9000.
      QUARKUS_MANAGEMENT_HOST: host,
      QUARKUS_MANAGEMENT_PORT: String(ports.schemaRegistryManagement),
      QUARKUS_PROFILE: 'prod',
    },
  });
}

/** Real readiness: the ccompat API answers a subject listing. */
export async function apicurioReady(): Promise<boolean> {
  try {
    const res = await fetch(`${schemaRegistryUrl}/subjects`, {
      signal: AbortSignal.timeout(2_000),
    });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}
