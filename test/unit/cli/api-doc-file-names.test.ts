/**
 * #21.10: docs/API.md's example reads the identity files under the names the CLI writes them
 * (`sealpost keys create <name>` → `<SEALPOST_KEYS_DIR>/<name>.json`), so an operator who followed
 * docs/OPERATIONS.md can run the example on those files as they are.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { registerAllGroups } from '../../../src/cli/groups.js';
import type { CliIo } from '../../../src/cli/output.js';
import { createProgram, runProgram } from '../../../src/cli/program.js';

const root = new URL('../../../', import.meta.url);
const dir = mkdtempSync(join(tmpdir(), 'sealpost-api-names-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("docs/API.md's file names", () => {
  it('are the names `sealpost keys create` writes', async () => {
    const doc = readFileSync(new URL('docs/API.md', root), 'utf8');
    const block = /```ts\n([\s\S]*?)```/.exec(doc)![1]!;
    const identityFiles = [...block.matchAll(/readIdentityFile\(`\$\{keysDir\}\/([^`]+)`/g)].map(
      (m) => m[1]!,
    );
    expect(identityFiles.length).toBe(2);
    const keysDir = join(dir, 'keys');
    const env = {
      SEALPOST_KEYS_DIR: keysDir,
      SEALPOST_LOCAL_KEK_FILE: join(dir, 'kek.json'),
    };
    for (const name of ['orders', 'billing']) {
      let err = '';
      const io: CliIo = { out: () => undefined, err: (t) => (err += t), env, cwd: dir };
      const code = await runProgram(
        createProgram(io, registerAllGroups),
        ['keys', 'create', name, '--kms', 'local'],
        io,
      );
      expect(code, err).toBe(0);
    }
    for (const file of identityFiles) expect(existsSync(join(keysDir, file)), file).toBe(true);
  });
});
