/**
 * The order of a topic's deliveries (src/pipeline/producer/send-lanes.ts): deliveries of one request
 * each start at once and run together; a split (exclusive) delivery starts once every delivery entered
 * before it is done, and those entered after it start once it is done. Checked from a log of starts and
 * ends, with each delivery released by the test.
 */
import { describe, expect, it } from 'vitest';
import { SendLanes, type LaneTurn } from '../../../../src/pipeline/producer/send-lanes.js';

/** Enters `name` and logs `start <name>` once its turn comes. */
function enter(lanes: SendLanes, log: string[], name: string, topic: string, exclusive: boolean) {
  const turn: LaneTurn = lanes.enter(topic, exclusive);
  const started = (async () => {
    if (turn.ready !== undefined) await turn.ready;
    log.push(`start ${name}`);
  })();
  return {
    started,
    end: async () => {
      log.push(`end ${name}`);
      turn.release();
      await Promise.resolve();
    },
  };
}

/** Lets every pending continuation run. */
const drain = () => new Promise<void>((r) => setImmediate(r));

describe('SendLanes', () => {
  it('lets deliveries of one request run together', async () => {
    const lanes = new SendLanes();
    expect(lanes.enter('t', false).ready).toBeUndefined();
    const log: string[] = [];
    const a = enter(lanes, log, 'a', 'u', false);
    const b = enter(lanes, log, 'b', 'u', false);
    await drain();
    expect(log).toEqual(['start a', 'start b']);
    await b.end();
    await a.end();
  });

  it('runs a split delivery alone: after the earlier ones, before the later ones', async () => {
    const lanes = new SendLanes();
    const log: string[] = [];
    const a = enter(lanes, log, 'a', 't', false);
    const big = enter(lanes, log, 'big', 't', true);
    const c = enter(lanes, log, 'c', 't', false);
    const other = enter(lanes, log, 'other', 'elsewhere', false);
    await drain();
    expect(log).toEqual(['start a', 'start other']);
    await a.end();
    await big.started;
    await drain();
    expect(log).toEqual(['start a', 'start other', 'end a', 'start big']);
    await big.end();
    await c.started;
    expect(log.slice(-2)).toEqual(['end big', 'start c']);
    await c.end();
    await other.end();
  });

  it('orders two split deliveries and a later one after both', async () => {
    const lanes = new SendLanes();
    const log: string[] = [];
    const one = enter(lanes, log, 'one', 't', true);
    const two = enter(lanes, log, 'two', 't', true);
    const three = enter(lanes, log, 'three', 't', false);
    await drain();
    expect(log).toEqual(['start one']);
    await one.end();
    await two.started;
    await drain();
    expect(log).toEqual(['start one', 'end one', 'start two']);
    await two.end();
    await three.started;
    expect(log.slice(-1)).toEqual(['start three']);
    await three.end();
    // Everything released: a new split delivery starts at once.
    expect(lanes.enter('t', true).ready).toBeUndefined();
  });
});
