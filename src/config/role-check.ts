import { constants, accessSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { ENV_KEYS, envNameOf, parseConfig, type SealpostConfig } from './config.js';

/**
 * What a service of a given role needs from the configuration, checked all at once: the settings it
 * cannot run without, and the files they name (present, readable, secrets not readable by group or
 * others, the identity file valid). Used by `sealpost config check --role` and by the workers at
 * start, so both report the same list (docs/OPERATIONS.md, "Running the workers").
 */
export const ROLES = ['producer', 'consumer', 'audit-worker', 'dlq-worker'] as const;
export type Role = (typeof ROLES)[number];

export interface RoleCheckResult {
  /** The parsed config when there is no problem at all. */
  readonly config: SealpostConfig | undefined;
  /** Every problem, `VARIABLE: what is wrong` (never a secret's value). */
  readonly problems: readonly string[];
}

export interface RoleCheckDeps {
  readonly cwd?: string;
  /**
   * Validates a parsed identity file (structure, kids), throwing with a message on a bad one; the
   * entry points pass the keys module's parser. Without it only "a JSON object" is checked.
   */
  readonly validateIdentityFile?: (json: unknown) => void;
}

/** Which roles need what. */
const NEEDS = {
  identity: new Set<Role>(['producer', 'consumer', 'audit-worker']),
  kms: new Set<Role>(['producer', 'consumer', 'audit-worker']),
  registry: new Set<Role>(['producer', 'consumer', 'audit-worker']),
};

type FileKind = 'secret' | 'file';

/**
 * Checks the configuration for a role (or, without one, only the settings that are present: their
 * syntax and the files they name). Never throws for a bad configuration; returns the problems.
 */
export function checkConfig(
  env: Readonly<Record<string, string | undefined>>,
  role: Role | undefined,
  deps: RoleCheckDeps = {},
): RoleCheckResult {
  const cwd = deps.cwd ?? process.cwd();
  const parsed = parseConfig(env, { cwd });
  const problems = [...parsed.problems];
  // The values as given (after the file and the environment merge), for the presence and file checks
  // even when another setting failed to parse.
  const raw = rawValues(env, cwd);
  const reported = new Set(problems.map((p) => p.split(':')[0]));
  const add = (key: keyof SealpostConfig, message: string): void => {
    const name = envNameOf(key);
    if (reported.has(name)) return;
    reported.add(name);
    problems.push(`${name}: ${message}`);
  };
  const present = (key: keyof SealpostConfig): boolean => raw[key] !== undefined;
  const file = (key: keyof SealpostConfig, kind: FileKind): void => {
    const value = raw[key];
    if (typeof value !== 'string') return;
    const problem = fileProblem(resolve(cwd, value), kind);
    if (problem !== undefined) add(key, `${value} ${problem}`);
  };

  const kms = (raw.kms ?? 'local') as string;
  const tls = raw.kafkaTls === 'true' || raw.kafkaTls === true;
  const needs = (what: keyof typeof NEEDS): boolean => role !== undefined && NEEDS[what].has(role);

  if (role !== undefined) {
    if (!present('kafkaBrokers') && !(tls && present('kafkaSslBrokers')))
      add(
        'kafkaBrokers',
        'is required (host:port,…; or KAFKA_SSL_BROKERS with SEALPOST_KAFKA_TLS=true)',
      );
    if (!present('authorityPublicKey'))
      add('authorityPublicKey', 'is required: it pins the directory authority (64 hex)');
    if (needs('identity') && !present('identityFile'))
      add('identityFile', `is required for ${role}: the service identity key file`);
    if (needs('registry') && !present('schemaRegistryUrl'))
      add('schemaRegistryUrl', `is required for ${role}`);
    if (needs('kms') && kms === 'vault') {
      if (!present('vaultAddr')) add('vaultAddr', 'is required with SEALPOST_KMS=vault');
      if (!present('vaultToken') && !present('vaultTokenFile') && !present('vaultRoleId'))
        add(
          'vaultTokenFile',
          'set VAULT_TOKEN_FILE (or VAULT_TOKEN), or VAULT_ROLE_ID with VAULT_SECRET_ID_FILE',
        );
    }
    if (needs('kms') && kms === 'local') {
      const kek = typeof raw.localKekFile === 'string' ? raw.localKekFile : '.sealpost/kek.json';
      const problem = fileProblem(resolve(cwd, kek), 'secret');
      if (problem !== undefined) add('localKekFile', `${kek} ${problem}`);
    }
  } else if (typeof raw.localKekFile === 'string') {
    file('localKekFile', 'secret');
  }

  file('vaultTokenFile', 'secret');
  file('vaultSecretIdFile', 'secret');
  file('postgresPasswordFile', 'secret');
  file('vaultCaCertFile', 'file');
  if (tls) {
    file('kafkaSslCaFile', 'file');
    file('kafkaSslCertFile', 'file');
    file('kafkaSslKeyFile', 'secret');
  }
  if (typeof raw.directoryFile === 'string') {
    const path = resolve(cwd, raw.directoryFile);
    const problem = fileProblem(path, 'file') ?? jsonProblem(path);
    if (problem !== undefined) add('directoryFile', `${raw.directoryFile} ${problem}`);
  }
  if (typeof raw.identityFile === 'string') {
    const path = resolve(cwd, raw.identityFile);
    const problem =
      fileProblem(path, 'secret') ?? jsonProblem(path, deps.validateIdentityFile ?? (() => {}));
    if (problem !== undefined) add('identityFile', `${raw.identityFile} ${problem}`);
  }
  return { config: problems.length === 0 ? parsed.config : undefined, problems };
}

/** The merged raw values (file, then environment), by config key. */
function rawValues(
  env: Readonly<Record<string, string | undefined>>,
  cwd: string,
): Partial<Record<keyof SealpostConfig, unknown>> {
  // No prototype: a config file's "__proto__" key or an environment variable named "constructor"
  // must stay data, never reach Object.prototype's members.
  const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  const file = env.SEALPOST_CONFIG;
  if (file !== undefined && file !== '') {
    try {
      const parsed: unknown = JSON.parse(readFileSync(resolve(cwd, file), 'utf8'));
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
        for (const [k, v] of Object.entries(parsed)) out[k] = v;
    } catch {
      // reported by parseConfig
    }
  }
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || value === '') continue;
    if (Object.hasOwn(ENV_KEYS, name)) out[ENV_KEYS[name] as string] = value;
  }
  return out;
}

/** Why a file cannot be used (undefined when fine). Secrets must not be readable by group or others. */
function fileProblem(path: string, kind: FileKind): string | undefined {
  let mode: number;
  let isFile: boolean;
  try {
    const st = statSync(path);
    mode = st.mode;
    isFile = st.isFile();
  } catch {
    return 'does not exist';
  }
  if (!isFile) return 'is not a regular file';
  try {
    accessSync(path, constants.R_OK);
  } catch {
    return 'cannot be read by this user';
  }
  if (kind === 'secret' && (mode & 0o077) !== 0)
    return `is readable or writable by group or others (mode ${(mode & 0o777).toString(8).padStart(4, '0')}): chmod 600 it`;
  return undefined;
}

/** Why a file is not the JSON it should be (undefined when fine); never quotes its content. */
function jsonProblem(path: string, validate?: (json: unknown) => void): string | undefined {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return 'is not valid JSON';
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    return 'does not hold a JSON object';
  if (validate !== undefined) {
    try {
      validate(json);
    } catch (err) {
      return `is not valid: ${(err as Error).message}`;
    }
  }
  return undefined;
}
