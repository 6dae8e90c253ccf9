import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AclError } from '../../../src/acl/acl-error.js';
import { AclNotSettledError } from '../../../src/acl/acl-apply.js';
import { AuditWorkerError } from '../../../src/audit/audit-worker.js';
import { CheckpointTopicError } from '../../../src/audit/checkpoint-topic.js';
import { NoteError } from '../../../src/audit/signed-note.js';
import { AuditStoreError } from '../../../src/audit/audit-store.js';
import { CliExit } from '../../../src/cli/program.js';
import { CryptoError } from '../../../src/crypto/crypto-error.js';
import { QuarantineReleaseError } from '../../../src/dlq/quarantine-release.js';
import { EnvelopeError, EnvelopeUsageError } from '../../../src/envelope/errors.js';
import { SEALPOST_ERROR_CODES, type SealpostErrorClassName } from '../../../src/error-codes.js';
import { ConfigError, hasCode, isSealpostError, SealpostError } from '../../../src/errors.js';
import { TransportError } from '../../../src/kafka/transport-error.js';
import { DirectoryError } from '../../../src/keys/directory/directory-error.js';
import { KeyError } from '../../../src/keys/key-error.js';
import { KmsError } from '../../../src/keys/kms/kms-error.js';
import { PolicyError } from '../../../src/keys/policy.js';
import type { PRIVATE_FILE_ERROR_CODES } from '../../../src/keys/private-file.js';
import { PrivateFileError, type PrivateFileProblem } from '../../../src/keys/private-file.js';
import { PipelineError } from '../../../src/pipeline/pipeline-error.js';
import {
  AvroDecodeError,
  AvroEncodeError,
  AvroSchemaError,
} from '../../../src/registry/avro-errors.js';
import { RegistryError } from '../../../src/registry/registry-error.js';
import { PostgresStoreError } from '../../../src/stores/postgres-database.js';
import { TokenizeError } from '../../../src/tokenize/tokenize-error.js';
import { errorCodeTable, TABLE_BEGIN, TABLE_END } from './error-code-table.js';

const PROBLEM_OF: Record<keyof typeof PRIVATE_FILE_ERROR_CODES, PrivateFileProblem> = {
  PRIVATE_FILE_INSECURE: 'insecure',
  PRIVATE_FILE_NOT_FOUND: 'not-found',
  PRIVATE_FILE_EXISTS: 'exists',
  PRIVATE_FILE_IO_FAILED: 'io',
};

/** How to raise each class's codes, as its throw sites do when they pass no retriable verdict. */
const RAISE: {
  [C in SealpostErrorClassName]: (code: keyof (typeof SEALPOST_ERROR_CODES)[C]) => SealpostError;
} = {
  ConfigError: (c) => new ConfigError(c, 'm'),
  PipelineError: (c) => new PipelineError(c, 'm'),
  EnvelopeError: (c) => new EnvelopeError(c),
  EnvelopeUsageError: (c) => new EnvelopeUsageError(c, 'm'),
  CryptoError: (c) => new CryptoError(c, 'm'),
  TransportError: (c) => new TransportError(c, 'm'),
  RegistryError: (c) => new RegistryError(c, 'm'),
  AvroDecodeError: (c) => new AvroDecodeError(c, 'm'),
  AvroEncodeError: () => new AvroEncodeError('m', []),
  AvroSchemaError: (c) => new AvroSchemaError(c, 'm'),
  KmsError: (c) => new KmsError(c, 'm'),
  KeyError: (c) => new KeyError(c, 'm'),
  PrivateFileError: (c) => new PrivateFileError(PROBLEM_OF[c], 'm'),
  PolicyError: (c) => new PolicyError(c, 'm'),
  DirectoryError: (c) => new DirectoryError(c, 'm'),
  TokenizeError: (c) => new TokenizeError(c, 'm'),
  AclError: (c) => new AclError(c, 'm'),
  AclNotSettledError: () => new AclNotSettledError({ add: [], remove: [], unchanged: 0 }),
  AuditStoreError: (c) => new AuditStoreError(c, 'm'),
  PostgresStoreError: (c) => new PostgresStoreError(c, 'm'),
  AuditWorkerError: (c) => new AuditWorkerError(c, 'm'),
  CheckpointTopicError: () => new CheckpointTopicError('m'),
  NoteError: () => new NoteError('m'),
  QuarantineReleaseError: (c) => new QuarantineReleaseError(c, 'm'),
  CliExit: () => new CliExit(1),
};

const families = Object.entries(SEALPOST_ERROR_CODES) as [
  SealpostErrorClassName,
  Readonly<Record<string, string>>,
][];

/** `class A extends B` declarations of every source file under src/. */
function classDeclarations(): Map<string, { base: string; file: string }> {
  const root = new URL('../../../src/', import.meta.url).pathname;
  const found = new Map<string, { base: string; file: string }>();
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory()) walk(path);
      else if (e.name.endsWith('.ts')) {
        const text = readFileSync(path, 'utf8');
        for (const m of text.matchAll(/\bclass\s+(\w+)(?:<[^>{]*>)?\s+extends\s+([\w.]+)/g)) {
          expect(found.has(m[1]!), `class ${m[1]} is declared twice`).toBe(false);
          found.set(m[1]!, { base: m[2]!, file: path.slice(root.length) });
        }
      }
    }
  };
  walk(root);
  return found;
}

describe('error codes: one closed union', () => {
  it('no code belongs to two classes', () => {
    const owner = new Map<string, string[]>();
    for (const [cls, table] of families)
      for (const code of Object.keys(table)) owner.set(code, [...(owner.get(code) ?? []), cls]);
    const shared = [...owner].filter(([, classes]) => classes.length > 1);
    expect(shared).toEqual([]);
    expect(owner.size).toBeGreaterThan(150);
    for (const code of owner.keys()) expect(code).toMatch(/^[A-Z][A-Z0-9_]*$/);
  });

  it('every error class in src/ extends SealpostError, and every class with codes is one', () => {
    const classes = classDeclarations();
    const builtIn = new Set(['Error', 'TypeError', 'RangeError', 'SyntaxError', 'AggregateError']);
    const chain = (name: string): string[] => {
      const out: string[] = [];
      for (let c: string | undefined = name; c !== undefined; c = classes.get(c)?.base) {
        out.push(c);
        if (out.length > 20) break;
      }
      return out;
    };
    const strays = [...classes.keys()]
      .filter((name) => name !== 'SealpostError')
      .map((name) => ({ name, chain: chain(name) }))
      .filter((c) => builtIn.has(c.chain.at(-1)!) && !c.chain.includes('SealpostError'))
      .map((c) => `${c.name} (${classes.get(c.name)!.file})`);
    expect(strays).toEqual([]);
    for (const [cls] of families) expect(chain(cls)).toContain('SealpostError');
  });

  it('each code raises an error of its class with that code and the listed retriability', () => {
    for (const [cls, table] of families) {
      for (const [code, retriability] of Object.entries(table)) {
        const err = (RAISE[cls] as (c: string) => SealpostError)(code);
        expect(err.constructor.name).toBe(cls);
        expect(err).toBeInstanceOf(SealpostError);
        expect(err.code).toBe(code);
        expect(err.name).toBe(cls);
        // 'varies': the raiser passes its verdict (the Kafka client's, a timeout's); none given → false.
        const expected = retriability === 'yes';
        expect({ code, retriable: err.retriable }).toEqual({ code, retriable: expected });
      }
    }
  });

  it('the guards narrow by class and by code', () => {
    const err: unknown = new KmsError('KMS_SEALED', 'the KMS is sealed');
    expect(isSealpostError(err)).toBe(true);
    expect(isSealpostError(new Error('plain'))).toBe(false);
    expect(hasCode(err, 'KMS_SEALED', 'KMS_UNAVAILABLE')).toBe(true);
    expect(hasCode(err, 'KMS_UNAVAILABLE')).toBe(false);
    expect(hasCode({ code: 'KMS_SEALED' }, 'KMS_SEALED')).toBe(false);
  });

  it('docs/API.md lists every code with its retriability (the generated table)', () => {
    const api = readFileSync(new URL('../../../docs/API.md', import.meta.url), 'utf8');
    const start = api.indexOf(TABLE_BEGIN);
    const end = api.indexOf(TABLE_END);
    expect(start).toBeGreaterThan(0);
    expect(api.slice(start, end + TABLE_END.length)).toBe(errorCodeTable());
  });
});
