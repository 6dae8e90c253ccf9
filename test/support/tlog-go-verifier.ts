/**
 * Builds and runs interop/go (docs/AUDIT.md), the verifier that is not ours: Go's sumdb/note and
 * sumdb/tlog, with the machine's Go and the module from the Go module proxy (pinned by go.sum).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const GO_DIR = resolve(import.meta.dirname, '../../interop/go');

function goCommand(): string {
  const fromEnv = process.env.GO;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  return existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : 'go';
}

export interface GoVerifier {
  /** Runs it with `-vkey vkey` on `input`; exit status and stdout+stderr. */
  run(vkey: string, input: string): { status: number | null; out: string };
  remove(): void;
}

/** `go build` into a temp dir (GOFLAGS gains -mod=mod; GOPROXY as the environment says). */
export function buildGoVerifier(): GoVerifier {
  const dir = mkdtempSync(join(tmpdir(), 'sealpost-tlog-go-'));
  const binary = join(dir, 'sealpost-tlog-verify');
  const goflags = [process.env.GOFLAGS ?? '', '-mod=mod'].join(' ').trim();
  const build = spawnSync(goCommand(), ['build', '-o', binary, '.'], {
    cwd: GO_DIR,
    env: { ...process.env, GOFLAGS: goflags },
    encoding: 'utf8',
    timeout: 170_000,
  });
  if (build.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`go build in interop/go failed (${String(build.status)}): ${build.stderr}`);
  }
  return {
    run(vkey, input) {
      const res = spawnSync(binary, ['-vkey', vkey], { input, encoding: 'utf8', timeout: 60_000 });
      return { status: res.status, out: `${res.stdout}${res.stderr}` };
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
