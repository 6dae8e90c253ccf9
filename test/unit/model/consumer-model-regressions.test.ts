/**
 * The smallest counterexamples the consumer model (test/model/consumer-model.ts) found, replayed as
 * fixed command sequences on the in-memory transport, each checked against the model's invariants
 * (the hand-out and commit ledger, and liveness after the faults stop).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsumerModelRun, makeModelWorld, type ModelWorld } from '../../model/consumer-model.js';

let world: ModelWorld;
beforeAll(async () => {
  world = await makeModelWorld();
});
afterAll(async () => {
  await world?.cleanup();
});

/** Runs `steps` (each followed by a settle, as the model does), drains and returns the violations. */
async function replay(steps: ((r: ConsumerModelRun) => Promise<void> | void)[]): Promise<{
  violations: string[];
  run: ConsumerModelRun;
}> {
  const run = new ConsumerModelRun(world);
  try {
    await run.start();
    for (const step of steps) {
      await step(run);
      await run.settle();
    }
    await run.drain();
    return { violations: run.check(), run };
  } finally {
    await run.close();
  }
}

describe('SealedConsumer model counterexamples', () => {
  it('a clean close after a handler failure keeps the record flagged as a redelivery', async () => {
    // [handlerThrows(1), produce(k0), restart(0)]: close() used to lower the hand-out mark to the
    // committed offset, i.e. to the record whose handler threw; the next owner handed it out with
    // `redelivery: false`.
    const { violations, run } = await replay([
      (r) => r.handlerThrows(1),
      (r) => r.produce(['k0']),
      (r) => r.restart(0),
    ]);
    expect(violations).toEqual([]);
    const outs = run.handOuts.map((h) => [h.instance, h.ok, h.redelivery]);
    expect(outs[0]).toEqual([0, false, false]);
    // Handed out again (by this member or the next), flagged every time.
    expect(outs.slice(1).every(([, , redelivery]) => redelivery === true)).toBe(true);
    expect(outs.some(([, ok]) => ok === true)).toBe(true);
  }, 60_000);

  for (const [name, steps] of [
    [
      'a failed first commit, then a second member',
      [(r) => r.failCommit(), (r) => r.produce(['k0']), (r) => r.startInstance()],
    ],
    [
      'a failed first commit, then kill -9',
      [(r) => r.failCommit(), (r) => r.produce(['k0']), (r) => r.crash(0)],
    ],
    [
      'a lost ack of the first state write, then kill -9',
      [(r) => r.failStateWrite(true), (r) => r.produce(['k0']), (r) => r.crash(0)],
    ],
  ] as [string, ((r: ConsumerModelRun) => Promise<void> | void)[]][]) {
    it(`${name}: the next owner loads the uncommitted state and goes on (no operator hold)`, async () => {
      const { violations, run } = await replay(steps);
      expect(violations).toEqual([]);
      expect(run.heldForOperator().size).toBe(0);
      expect(run.alerts.filter((a) => a.code.startsWith('REPLAY_STATE'))).toEqual([]);
      expect(run.handOuts.some((h) => h.ok)).toBe(true);
    }, 60_000);
  }
});
