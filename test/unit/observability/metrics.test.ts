import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { SealpostMetrics } from '../../../src/observability/metrics.js';

describe('SealpostMetrics', () => {
  it('registers every metric on the injected registry, not the global one', async () => {
    const registry = new Registry();
    const m = new SealpostMetrics(registry);
    m.sealed.inc({ topic: 'orders' });
    m.sealed.inc({ topic: 'orders' });
    m.opened.inc({ topic: 'orders' });
    m.rejected.inc({ topic: 'orders', reason: 'TAG_MISMATCH' });
    m.skippedNotAddressed.inc({ topic: 'orders' });
    m.duplicates.inc({ topic: 'orders' });
    m.deadLettered.inc({ topic: 'orders', class: 'MESSAGE' });
    m.transientPauses.inc({ topic: 'orders', reason: 'REGISTRY_UNAVAILABLE' });
    m.sessionsOpened.inc({ topic: 'orders', role: 'producer' });
    m.sealSeconds.observe({ topic: 'orders' }, 0.000_008);
    m.openSeconds.observe({ topic: 'orders' }, 0.000_3);
    const text = await registry.metrics();
    expect(text).toContain('sealpost_sealed_total{topic="orders"} 2');
    expect(text).toContain('sealpost_rejected_total{topic="orders",reason="TAG_MISMATCH"} 1');
    expect(text).toContain('sealpost_skipped_not_addressed_total{topic="orders"} 1');
    expect(text).toContain('sealpost_dead_lettered_total{topic="orders",class="MESSAGE"} 1');
    expect(text).toContain('sealpost_sessions_opened_total{topic="orders",role="producer"} 1');
    expect(text).toContain('sealpost_seal_seconds_bucket{le="0.00001",topic="orders"} 1');
    expect(text).toContain('sealpost_open_seconds_count{topic="orders"} 1');
    const names = (await registry.getMetricsAsJSON()).map((x) => x.name).sort();
    expect(names).toEqual([
      'sealpost_dead_lettered_total',
      'sealpost_duplicates_total',
      'sealpost_open_seconds',
      'sealpost_opened_total',
      'sealpost_rejected_total',
      'sealpost_seal_seconds',
      'sealpost_sealed_total',
      'sealpost_sessions_opened_total',
      'sealpost_skipped_not_addressed_total',
      'sealpost_transient_pauses_total',
    ]);
  });

  it('allows two instances on separate registries and a custom prefix', async () => {
    const regA = new Registry();
    const regB = new Registry();
    const a = new SealpostMetrics(regA);
    const b = new SealpostMetrics(regB, { prefix: 'svc_' });
    a.sealed.inc({ topic: 't' });
    b.sealed.inc({ topic: 't' }, 3);
    expect(await regA.getSingleMetricAsString('sealpost_sealed_total')).toContain('sealpost_sealed_total{topic="t"} 1');
    expect(await regB.getSingleMetricAsString('svc_sealed_total')).toContain('svc_sealed_total{topic="t"} 3');
  });
});
