/**
 * #21 deliverable 1, docs/OPERATIONS.md "Quarantine" as written against live services: a record that is
 * not a sealpost envelope (MALFORMED) and a record of a sender not yet in the directory (HEADER) reach
 * quarantine through the running consumer and dead-letter worker; the triage commands show them; the
 * directory is fixed (step 3's publish plus the new sender's grant) and the release procedure runs as
 * written: the HEADER record is handed out, the MALFORMED one stays quarantined (purge keeps entries
 * younger than its --older-than).
 *
 * Invariant (from the ledger): every record the producer had acknowledged was handed out, the released
 * record too, exactly once; the dead letters are exactly those two; both workers healthy afterwards.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiveServices } from '../support/live-services.js';
import { runCli } from '../support/run-cli.js';
import { waitFor } from '../support/test-transport.js';

let live: LiveServices;

beforeAll(async () => {
  live = await LiveServices.prepare('quarantine');
  await live.startAll();
}, 120_000);
afterAll(async () => {
  await live?.close();
});

/** A command of the guide with its example value (an entry id, an offset) replaced by this run's. */
function fill(argv: readonly string[], example: string, value: string): string[] {
  const i = argv.indexOf(example);
  if (i < 0) throw new Error(`no ${example} in sealpost ${argv.join(' ')}`);
  return argv.map((a, j) => (j === i ? value : a));
}

describe('OPERATIONS.md quarantine triage and release under running services', () => {
  it('triage shows the dead letters; after the directory fix, release hands the record out', async () => {
    // A MALFORMED record on partition 0, and a record of `shipping`, which the services' directory
    // does not list yet (its producer reads a directory file that does).
    const junkOffset = await live.sendRaw(0, Buffer.from('not a sealpost envelope'));
    await live.mustRun(['keys', 'create', 'shipping', '--kms', 'vault']);
    const [publish] = live.guide('3');
    const shippingGrant = ['--grant', `shipping:send=${live.topics.orders}`];
    const directoryFile = join(live.env.SEALPOST_KEYS_DIR!, '..', 'shipping-directory.json');
    await live.mustRun([
      ...publish!.filter((_, i, a) => a[i] !== '--topic' && a[i - 1] !== '--topic'),
      ...shippingGrant,
      '--directory-file',
      directoryFile,
    ]);
    const shipped = await live.sendOnceAs('shipping', { SEALPOST_DIRECTORY_FILE: directoryFile });
    await waitFor(
      () => live.quarantined().length >= 2,
      'both dead letters in quarantine (the unknown sender after the consumer’s wait)',
      90_000,
    );
    const rows = live.quarantined();
    expect(rows.map((r) => r.reason).sort()).toEqual(['HEADER', 'MALFORMED']);
    const header = rows.find((r) => r.reason === 'HEADER')!;
    expect(header).toMatchObject({
      sourceTopic: live.topics.orders,
      sourcePartition: shipped.partition,
      sourceOffset: shipped.offset,
    });

    // Triage, as written (the example id 17 and offset 42 are this run's).
    const [list, listAll, listOld, show, inspect] = live.guideSection('Quarantine', 1);
    for (const argv of [list!, listAll!]) {
      const out = await live.mustRun(argv);
      expect(out).toContain('HEADER');
      expect(out).toContain('MALFORMED');
    }
    // Both entries are younger than the guide's --older-than 1h.
    expect(await live.mustRun([...listOld!, '--json'])).toMatch(/^\s*\[\s*\]\s*$/);
    expect(await live.mustRun(fill(show!, '17', String(header.id)))).toContain(live.topics.orders);
    const inspected = await live.cli(fill(inspect!, '42', junkOffset));
    expect(inspected.code).toBe(1);
    expect(inspected.err).toContain('not a sealpost envelope');

    // The fix, and the operator that signs releases (block 3 as written: step 3's grants plus
    // ops:release=orders), plus the new sender's grant.
    const [createOps, publishWithOps] = live.guideSection('Quarantine', 3);
    await live.mustRun(createOps!);
    await live.mustRun([...publishWithOps!, ...shippingGrant]);
    // The release procedure as written, run as the operator (docs/SPEC.md §11).
    const asOps = {
      ...live.env,
      SEALPOST_IDENTITY_FILE: join(live.env.SEALPOST_KEYS_DIR!, 'ops.json'),
      SEALPOST_DIRECTORY_STATE_FILE: join(live.env.SEALPOST_KEYS_DIR!, '..', 'ops-state.json'),
    };
    const runAsOps = async (argv: readonly string[]) => {
      const r = await runCli(argv, asOps);
      if (r.code !== 0) throw new Error(`sealpost ${argv.join(' ')} exited ${r.code}: ${r.err}`);
    };
    const [releaseOne, releaseByReason, purge] = live.guideSection('Quarantine', 2);
    await runAsOps(fill(releaseOne!, '17', String(header.id)));
    await runAsOps(releaseByReason!);
    await live.mustRun(purge!);
    await waitFor(
      () => live.handedOut.has(shipped.messageId),
      'the released record handed out to billing',
      60_000,
    );

    const report = await live.checkLedger({ deadLetterReasons: ['HEADER', 'MALFORMED'] });
    expect(live.handedOut.get(shipped.messageId)).toBe(1);
    expect([...live.handedOut.values()].every((n) => n === 1)).toBe(true);
    expect(report.deadLetters.map((d) => [d.reason, d.status]).sort()).toEqual([
      ['HEADER', 'released'],
      ['MALFORMED', 'quarantined'],
    ]);
  }, 240_000);
});
