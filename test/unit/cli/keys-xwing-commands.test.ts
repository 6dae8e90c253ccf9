import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../support/run-cli.js';

let dir: string;
let env: Record<string, string>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealpost-cli-xwing-'));
  env = { SEALPOST_KEYS_DIR: join(dir, 'keys'), SEALPOST_LOCAL_KEK_FILE: join(dir, 'kek.json') };
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Summary {
  generations: { generation: number; state: string; kemKid: string | null }[];
}

describe('sealpost keys … --xwing (suite 2 keys) and the directory', () => {
  it('keys create --xwing gives the identity an X-Wing kid; without it there is none', async () => {
    expect((await runCli(['keys', 'init-authority'], env)).code).toBe(0);
    const pq = await runCli(['keys', 'create', 'orders', '--xwing', '--json'], env);
    expect(pq.code, pq.err).toBe(0);
    const s = (JSON.parse(pq.out) as { summary: Summary }).summary;
    expect(s.generations[0]!.kemKid).toMatch(/^[0-9a-f]{32}$/);
    const plain = await runCli(['keys', 'create', 'billing', '--json'], env);
    expect((JSON.parse(plain.out) as { summary: Summary }).summary.generations[0]!.kemKid).toBe(
      null,
    );
    const table = await runCli(['keys', 'list'], env);
    expect(table.out).toContain('XWINGKID');
    expect(table.out).toContain(s.generations[0]!.kemKid!);
  });

  it('keys rotate --xwing adds X-Wing keys at the next generation; a plain rotate keeps them', async () => {
    const r1 = await runCli(['keys', 'rotate', 'billing', '--xwing', '--json'], env);
    expect(r1.code, r1.err).toBe(0);
    const g1 = (JSON.parse(r1.out) as { summary: Summary }).summary.generations;
    expect(g1.map((g) => [g.generation, g.state, g.kemKid !== null])).toEqual([
      [2, 'active', true],
      [1, 'retiring', false],
    ]);
    const r2 = await runCli(['keys', 'rotate', 'billing', '--json'], env);
    const g2 = (JSON.parse(r2.out) as { summary: Summary }).summary.generations;
    expect(g2.map((g) => [g.generation, g.kemKid !== null])).toEqual([
      [3, true],
      [2, true],
      [1, false],
    ]);
  });

  it('directory publish lists the X-Wing kids; show validates them', async () => {
    const file = join(dir, 'directory.json');
    const publish = [
      'directory',
      'publish',
      '--directory-file',
      file,
      '--grant',
      'orders:send=orders.v1',
      '--grant',
      'billing:receive=orders.v1',
    ];
    const pub = await runCli([...publish, '--json'], env);
    expect(pub.code, pub.err).toBe(0);
    const records = (JSON.parse(pub.out) as { records: { identity: string; kemKid?: string }[] })
      .records;
    expect(
      records
        .filter((r) => r.kemKid !== undefined)
        .map((r) => r.identity)
        .sort(),
    ).toEqual(['billing', 'billing', 'orders']);
    const text = await runCli(publish, env);
    expect(text.out).toContain('XWINGKID');
  });

  it('keys revoke --kid accepts an X-Wing kid and revokes that generation', async () => {
    const file = join(dir, 'directory.json');
    const list = await runCli(['keys', 'list', '--json'], env);
    const orders = (JSON.parse(list.out) as { summary: { name: string } & Summary }[]).find(
      (x) => x.summary.name === 'orders',
    )!.summary;
    const kemKid = orders.generations[0]!.kemKid!;
    const r = await runCli(
      ['keys', 'revoke', 'orders', '--kid', kemKid, '--directory-file', file, '--json'],
      env,
    );
    expect(r.code, r.err).toBe(0);
    const records = (JSON.parse(r.out) as { records: { status: string; kemKid?: string }[] })
      .records;
    expect(records.find((x) => x.kemKid === kemKid)?.status).toBe('revoked');
  });

  it('--help tells about --xwing', async () => {
    for (const cmd of ['create', 'rotate']) {
      const h = await runCli(['keys', cmd, '--help'], env);
      expect(h.out).toContain('--xwing');
      expect(h.out).toContain('X-Wing');
    }
  });
});
