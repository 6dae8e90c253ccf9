/**
 * #21 deliverable 1, docs/OPERATIONS.md as written against live services: steps 1–3 (authority,
 * identities, directory on the topic) set up the producer, the consumer and both workers; the workers
 * stop on SIGTERM and start again as the guide runs them; the audit-log procedure (verify, query,
 * tail) runs as written over the events of that traffic.
 *
 * Invariant (from the ledger): every acknowledged record was handed out, nothing was dead-lettered,
 * both workers answer /healthz 200 afterwards, no consumer alert and no send error.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiveServices } from '../support/live-services.js';

let live: LiveServices;

beforeAll(async () => {
  live = await LiveServices.prepare('services');
  await live.startAll();
}, 120_000);
afterAll(async () => {
  await live?.close();
});

/** A command of the guide with a placeholder (e.g. `<32 hex>`) filled in. */
function fill(argv: readonly string[], placeholder: string, value: string): string[] {
  return argv.join(' ').replace(placeholder, value).split(' ');
}

/**
 * The CLI as a process (for `--follow`, which runs until interrupted): node with the tsx loader, no
 * wrapper process between the signal and the CLI (the tsx binary relays signals and, when the CLI's
 * answer is late on a busy machine, exits 130 itself).
 */
function sealpostProcess(argv: readonly string[], env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...argv], {
    cwd: join(import.meta.dirname, '../..'),
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.resume();
  return {
    out: () => out,
    exited: new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c))),
    interrupt: () => child.kill('SIGINT'),
  };
}

describe('OPERATIONS.md with a running producer, consumer and both workers', () => {
  it('steps 1–3: the identities are listed, the directory verifies, traffic flows end to end', async () => {
    const [list] = live.guide('2').filter((argv) => argv[1] === 'list');
    const listed = await live.mustRun(list!);
    for (const name of ['orders', 'billing', 'audit', 'dead-letter-worker'])
      expect(listed).toContain(name);
    const [verify] = live.guide('3').filter((argv) => argv[1] === 'verify');
    expect(await live.mustRun(verify!)).toMatch(/ok|valid|verified/i);
    await live.waitForHandOuts(20, 'records handed out to billing');
  }, 120_000);

  it('worker start/stop: each worker exits 0 on SIGTERM and, started again, resumes healthy', async () => {
    for (const w of ['audit', 'dlq'] as const) {
      expect(await live.health(w)).toBe(200);
      expect(await live.stopWorker(w)).toBe(0);
      await live.startWorker(w);
      expect(await live.health(w)).toBe(200);
    }
    await live.waitForHandOuts(10, 'records handed out after the worker restarts');
  }, 120_000);

  it('audit log: verify, query and tail run as written over the logged traffic', async () => {
    await live.stopProducer();
    const [verify, rejected, sealedBy, byId, tail] = live.guideSection('Audit log', 1);
    expect(verify).toEqual(['audit', 'verify']);
    // Every sealed event of the traffic reached the audit log: the worker committed the whole
    // metadata topic (its consumer group), after the producer's last flush and after the consumer
    // sent the `opened` event of the last acknowledged record (checked below). Without waiting for
    // that event, the worker could be at the end of the topic before it was written (seen in CI).
    const one = live.acked[live.acked.length - 1]!;
    await live.consumerEventsSentFor(one);
    await live.waitForGroupAtEnd('sealpost-audit', live.topics.metadata);
    const ok = await live.cli(verify!);
    expect(ok.code, ok.out + ok.err).toBe(0);

    const noRejections = await live.cli([...rejected!, '--json']);
    expect(noRejections.code, noRejections.err).toBe(0);
    expect(JSON.parse(noRejections.out)).toEqual([]);

    const sealed = await live.cli([...sealedBy!, '--limit', '100000']);
    expect(sealed.code, sealed.err).toBe(0);
    expect(sealed.out).toContain(one);

    const events = await live.cli(fill(byId!, '<32 hex>', one));
    expect(events.code, events.err).toBe(0);
    expect(events.out).toContain('sealed');
    expect(events.out).toContain('opened');

    const follow = sealpostProcess(tail!, live.env);
    await waitForLines(follow.out, 50);
    follow.interrupt();
    expect(await follow.exited).toBe(0);
  }, 120_000);

  it('the ledger: nothing lost, nothing dead-lettered, both workers healthy', async () => {
    const report = await live.checkLedger();
    expect(report.acked).toBeGreaterThan(30);
  }, 120_000);
});

async function waitForLines(out: () => string, n: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (out().trim().split('\n').length < n) {
    if (Date.now() > deadline)
      throw new Error(`audit tail printed ${out().length} bytes, not ${n} lines`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
