/**
 * Model-based test of SealedConsumer on the in-memory transport (test/model/consumer-model.ts states
 * the commands and the invariants). `npm test` runs 1,000 short command sequences here;
 * `npm run fuzz:consumer-model` runs many more, longer ones.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  consumerModelProperty,
  emptyStats,
  KNOWN_DEFECT_EXCLUDES,
  makeModelWorld,
  type ModelWorld,
} from '../../model/consumer-model.js';

let world: ModelWorld;
beforeAll(async () => {
  world = await makeModelWorld();
});
afterAll(async () => {
  await world?.cleanup();
});

describe('SealedConsumer model', () => {
  // Narrowed by KNOWN_DEFECT_EXCLUDES (empty today: every command runs).
  it('keeps its invariants over 1,000 random command sequences', async () => {
    const stats = emptyStats();
    await fc.assert(
      consumerModelProperty(world, { maxCommands: 8, exclude: KNOWN_DEFECT_EXCLUDES, stats }),
      { numRuns: 1000 },
    );
    // The sequences reached what the invariants are about (not 1,000 idle consumers).
    expect(stats.runs).toBe(1000);
    for (const k of [
      'handOuts',
      'redeliveries',
      'commits',
      'deadLetters',
      'twoMemberRuns',
      'killRuns',
      'fenceRuns',
    ] as const)
      expect(stats[k], k).toBeGreaterThan(0);
    expect(stats.heldForOperatorRuns).toBe(0);
  }, 300_000);
});
