/**
 * The consumer's restart rule alone (src/pipeline/consumer/restart-supervisor.ts), with a replace
 * function that fails on demand: backoff attempts alert CONSUMER_RESTARTING, a bound ends in
 * CONSUMER_FAILED, a crash the client restarts from itself or one during close starts nothing.
 */
import { describe, expect, it } from 'vitest';
import type { PipelineError } from '../../../src/pipeline/pipeline-error.js';
import { silentLogger } from '../../../src/pipeline/pipeline-logger.js';
import {
  RestartSupervisor,
  restartPolicy,
} from '../../../src/pipeline/consumer/restart-supervisor.js';
import { ManualClock } from '../../../src/runtime/clock.js';

function supervisor(replace: () => Promise<void>, active = () => true) {
  const alerts: string[] = [];
  const failed: PipelineError[] = [];
  let onFail: () => void = () => undefined;
  const failedOnce = new Promise<void>((r) => (onFail = r));
  const s = new RestartSupervisor({
    policy: restartPolicy({
      initialDelayMs: 1,
      maxDelayMs: 4,
      maxAttempts: 3,
      stableAfterMs: 1000,
    }),
    clock: new ManualClock(0),
    logger: silentLogger,
    active,
    replace,
    alert: (code) => alerts.push(code),
  });
  s.onFailed((e) => {
    failed.push(e);
    onFail();
  });
  return { s, alerts, failed, failedOnce };
}

const crash = (willRestart: boolean) => ({ error: new Error('boom'), willRestart });

describe('RestartSupervisor', () => {
  it('gives up after maxAttempts failed restarts: CONSUMER_FAILED once, to the alert and the listeners', async () => {
    let calls = 0;
    const { s, alerts, failed, failedOnce } = supervisor(() => {
      calls++;
      return Promise.reject(new Error('broker away'));
    });
    s.crashed(crash(false));
    expect(s.restarting).toBe(true);
    await failedOnce;
    expect(calls).toBe(3);
    expect(alerts).toEqual([
      'CONSUMER_RESTARTING',
      'CONSUMER_RESTARTING',
      'CONSUMER_RESTARTING',
      'CONSUMER_FAILED',
    ]);
    expect(failed.map((e) => e.code)).toEqual(['CONSUMER_FAILED']);
    expect(s.failed).toBe(true);
    expect(s.restarting).toBe(false);
    s.crashed(crash(false));
    expect(s.restarting).toBe(false);
  });

  it('a restart that succeeds ends the episode; a crash the client restarts from starts nothing', async () => {
    let calls = 0;
    let replaced: () => void = () => undefined;
    const done = new Promise<void>((r) => (replaced = r));
    const { s, alerts, failed } = supervisor(() => {
      calls++;
      if (calls === 1) return Promise.reject(new Error('not yet'));
      replaced();
      return Promise.resolve();
    });
    s.crashed(crash(true));
    expect(s.restarting).toBe(false);
    s.crashed(crash(false));
    await done;
    await Promise.resolve();
    expect(calls).toBe(2);
    expect(alerts).toEqual(['CONSUMER_RESTARTING', 'CONSUMER_RESTARTING']);
    expect(failed).toEqual([]);
    expect(s.attempts).toBe(2);
  });

  it('does not restart once the consumer is closing', () => {
    let calls = 0;
    const { s, alerts } = supervisor(
      () => {
        calls++;
        return Promise.resolve();
      },
      () => false,
    );
    s.crashed(crash(false));
    s.close();
    expect(s.restarting).toBe(false);
    expect(calls).toBe(0);
    expect(alerts).toEqual([]);
  });
});
