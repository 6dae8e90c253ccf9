/**
 * The in-process A/B of a kafkajs module and sealpost's linear replacement of it
 * (bench/produce-encoding-ab.ts, bench/fetch-decoding-ab.ts): one warm-up round of each, then
 * `rounds` rounds alternating which goes first; prints process and main-thread CPU per record,
 * medians and the per-round ratio linear/own.
 */

/** CPU µs per record of one round: the process's, and the main thread's where Node reports it. */
export interface RoundCpu {
  readonly cpu: number;
  readonly main: number | undefined;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export async function ownVsLinear<I>(
  round: (impl: I) => Promise<RoundCpu>,
  own: I,
  linear: I,
  rounds: number,
  digits: number,
  describe: string,
): Promise<void> {
  await round(own);
  await round(linear);
  const rows: { own: RoundCpu; linear: RoundCpu }[] = [];
  for (let r = 0; r < rounds; r++) {
    const first = r % 2 === 0;
    const a = first ? await round(own) : await round(linear);
    const b = first ? await round(linear) : await round(own);
    rows.push(first ? { own: a, linear: b } : { own: b, linear: a });
  }
  const fmt = (x: number): string => x.toFixed(digits);
  for (const key of ['cpu', 'main'] as const) {
    if (rows.some((r) => r.own[key] === undefined)) continue;
    const o = rows.map((r) => r.own[key]!);
    const l = rows.map((r) => r.linear[key]!);
    const ratios = rows.map((r) => r.linear[key]! / r.own[key]!);
    console.log(
      `${key === 'cpu' ? 'process' : 'main thread'} µs/record: own ${fmt(median(o))}, linear ${fmt(median(l))}, linear/own ${median(ratios).toFixed(3)} (${Math.min(...ratios).toFixed(3)}–${Math.max(...ratios).toFixed(3)}), ${describe}`,
    );
  }
}
