/**
 * The benchmarks' produce loop: `total` records in sends of at most `batch`, `inFlight` sends
 * outstanding, as a producer with a bounded accumulator would. `send(from, count)` sends records
 * from..from+count−1 (the caller builds them). One definition for bench/e2e.ts, bench/profile-e2e.ts,
 * bench/transports.ts, bench/kafkajs-size.ts and bench/pipeline-in-memory-run.ts.
 */
export async function sendInBatches(
  total: number,
  batch: number,
  inFlight: number,
  send: (from: number, count: number) => Promise<void>,
): Promise<void> {
  const inflight = new Set<Promise<void>>();
  for (let i = 0; i < total; i += batch) {
    const sent: Promise<void> = send(i, Math.min(batch, total - i)).finally(() =>
      inflight.delete(sent),
    );
    inflight.add(sent);
    if (inflight.size >= inFlight) await Promise.race(inflight);
  }
  await Promise.all(inflight);
}
