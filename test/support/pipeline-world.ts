/**
 * The world the pipeline integration tests need, built at run time: a temp dir with a local KMS
 * keyring, an authority, service identities (generated, wrapped, unwrapped through the keys module),
 * and a signed directory served from memory (re-signable, for revocations).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { createCryptoProvider } from '../../src/crypto/index.js';
import type { CryptoProvider } from '../../src/crypto/provider.js';
import {
  documentEntries,
  type DirectoryDocument,
} from '../../src/keys/directory/directory-document.js';
import {
  signDirectory,
  type DirectoryRecordDraft,
} from '../../src/keys/directory/directory-signer.js';
import { KeyDirectory } from '../../src/keys/directory/key-directory.js';
import {
  generateIdentityFile,
  loadIdentity,
  publicGenerations,
  type IdentityFile,
} from '../../src/keys/identity-file.js';
import type { LoadedIdentity } from '../../src/keys/identity.js';
import { LocalKms } from '../../src/keys/kms/local-kms.js';
import { PipelineMetrics } from '../../src/pipeline/pipeline-metrics.js';
import { SchemaRegistryClient } from '../../src/registry/schema-registry-client.js';
import { systemClock } from '../../src/runtime/clock.js';
import { getEndpoints } from './endpoints.js';

const DAY_MS = 86_400_000;

export interface ServiceSpec {
  readonly name: string;
  readonly send: readonly string[];
  readonly receive: readonly string[];
  /** Generate the identity but leave it out of the first directory (add it later with change()). */
  readonly unlisted?: boolean;
  /** Give the identity an X-Wing key pair and publish it (suite 2; default false). */
  readonly xwing?: boolean;
}

export interface PipelineWorld {
  readonly dir: string;
  readonly crypto: CryptoProvider;
  readonly kms: LocalKms;
  readonly files: ReadonlyMap<string, IdentityFile>;
  /** The current signed directory document. */
  document(): DirectoryDocument;
  /** Loads (unwraps) a service identity; closed by cleanup(). */
  identity(name: string): Promise<LoadedIdentity>;
  /** A KeyDirectory over the in-memory document (each service gets its own). */
  directory(): Promise<KeyDirectory>;
  /** Re-signs the directory with changed drafts (e.g. a revocation). */
  change(drafts: readonly DirectoryRecordDraft[]): Promise<void>;
  draft(name: string): DirectoryRecordDraft;
  registry(url?: string): SchemaRegistryClient;
  metrics(): { registry: Registry; metrics: PipelineMetrics };
  cleanup(): Promise<void>;
}

export async function makePipelineWorld(
  services: readonly ServiceSpec[],
  options: { dir?: string } = {},
): Promise<PipelineWorld> {
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'sealpost-pipeline-')));
  const crypto = await createCryptoProvider();
  const clock = systemClock;
  const kms = await LocalKms.open({ path: join(dir, 'kek.json'), crypto, clock, create: true });
  const authorityFile = await generateIdentityFile('authority', 'authority', {
    crypto,
    kms,
    clock,
  });
  const authority = await loadIdentity(authorityFile, { crypto, kms });
  const files = new Map<string, IdentityFile>();
  const drafts = new Map<string, DirectoryRecordDraft>();
  const now = clock.nowMs();
  for (const s of services) {
    const file = await generateIdentityFile(s.name, 'service', {
      crypto,
      kms,
      clock,
      xwing: s.xwing === true,
    });
    files.set(s.name, file);
    const g = publicGenerations(file).find((x) => x.state === 'active')!;
    drafts.set(s.name, {
      identity: s.name,
      status: 'active',
      boxKid: g.boxKid,
      boxPublicKey: g.boxPublicKey,
      signKid: g.signKid,
      signPublicKey: g.signPublicKey,
      validFromMs: now - 60_000,
      validUntilMs: now + 365 * DAY_MS,
      retiredAtMs: null,
      sendTopics: [...s.send],
      receiveTopics: [...s.receive],
      ...(g.kemKid === undefined || g.kemPublicKey === undefined
        ? {}
        : { kemKid: g.kemKid, kemPublicKey: g.kemPublicKey }),
    });
  }
  const listed = services.filter((s) => s.unlisted !== true).map((s) => drafts.get(s.name)!);
  let doc = signDirectory({ crypto, authority, clock, headTtlMs: DAY_MS, changes: listed });
  const loaded: LoadedIdentity[] = [authority];
  const directories: KeyDirectory[] = [];
  const source = { readAll: () => Promise.resolve(documentEntries(doc)) };
  // The authority's own view of what it published (the `previous` of the next signature).
  const published = await KeyDirectory.open({
    crypto,
    authorityPublicKey: authority.signingKey().publicKey,
    source,
    clock,
  });
  return {
    dir,
    crypto,
    kms,
    files,
    document: () => doc,
    async identity(name) {
      const file = files.get(name);
      if (file === undefined) throw new Error(`no identity ${name}`);
      const id = await loadIdentity(file, { crypto, kms });
      loaded.push(id);
      return id;
    },
    async directory() {
      const d = await KeyDirectory.open({
        crypto,
        authorityPublicKey: authority.signingKey().publicKey,
        source,
        clock,
      });
      directories.push(d);
      return d;
    },
    async change(changes) {
      doc = signDirectory({
        crypto,
        authority,
        clock,
        headTtlMs: DAY_MS,
        previous: published.snapshot(),
        changes,
      });
      await published.refresh();
      for (const d of changes) drafts.set(d.identity, d);
    },
    draft(name) {
      const d = drafts.get(name);
      if (d === undefined) throw new Error(`no draft ${name}`);
      return d;
    },
    registry(url) {
      return new SchemaRegistryClient({
        url: url ?? getEndpoints().schemaRegistryUrl,
        fetch: globalThis.fetch,
        requestTimeoutMs: 3000,
      });
    },
    metrics() {
      const registry = new Registry();
      return { registry, metrics: new PipelineMetrics(registry) };
    },
    async cleanup() {
      for (const d of directories) d.stopAutoRefresh();
      for (const id of loaded) id.close();
      await kms.close();
      if (options.dir === undefined) await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The Avro schema the pipeline tests send. */
export const ORDER_SCHEMA = JSON.stringify({
  type: 'record',
  name: 'Order',
  namespace: 'dev.sealpost.it',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'cents', type: 'long' },
    { name: 'note', type: 'string' },
  ],
});

export interface Order {
  id: string;
  cents: number;
  note: string;
}

/** Sum of a prom-client counter's values (optionally for one label value). */
export async function counterValue(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) return 0;
  const data = await metric.get();
  return data.values
    .filter((v) =>
      Object.entries(labels).every(([k, x]) => (v.labels as Record<string, unknown>)[k] === x),
    )
    .reduce((a, v) => a + v.value, 0);
}

/** Builds the topics a pipeline test needs (data topics, dead letters, compacted state, metadata). */
export function pipelineTopics(purpose: string): { dlq: string; state: string; metadata: string } {
  const suffix = Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(4))).toString('hex');
  return {
    dlq: `test-${purpose}-dlq-${suffix}`,
    state: `test-${purpose}-state-${suffix}`,
    metadata: `test-${purpose}-meta-${suffix}`,
  };
}
