/**
 * kafkajs' own produce-request encoding against the linear one (src/kafka/kafkajs-produce-encoding.ts)
 * in one process, no broker: the framed request kafkajs' connection writes to the socket, for sends of
 * `--records` messages shaped as the transport hands them to kafkajs (key, value, headers as a
 * Buffer-array object). Rounds alternate own and linear; per round, CPU per record
 * (process.cpuUsage, and the main thread's alone where Node has process.threadCpuUsage) over
 * `--sends` sends; medians and per-round ratios linear/own at the end.
 *
 *   npx tsx bench/produce-encoding-ab.ts [--rounds 20] [--sends 200] [--records 500] [--value 1500]
 *
 * kafkajs' own modules are loaded first, so the install keeps them and this builds the linear ones
 * beside them with the same factories the install uses.
 */
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import '../src/kafka/kafkajs-crc32c.js';
import { ownVsLinear, type RoundCpu } from './own-vs-linear.js';

const argv = process.argv.slice(2);
const opt = (name: string, fallback: string): number => {
  const i = argv.indexOf(`--${name}`);
  return Number(i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : fallback);
};
const ROUNDS = opt('rounds', '20');
const SENDS = opt('sends', '200');
const RECORDS = opt('records', '500');
const VALUE = opt('value', '1500');

const require = createRequire(import.meta.url);
type Module = (args: unknown) => unknown;
const own = {
  produce: require('kafkajs/src/protocol/requests/produce/v3/request.js') as Module,
  createRequest: require('kafkajs/src/protocol/request.js') as Module,
};
const { linearProduceRequest, linearCreateRequest, kafkajsEncodingDeps } =
  await import('../src/kafka/kafkajs-produce-encoding.js');
const linear = {
  produce: linearProduceRequest(own.produce as never, kafkajsEncodingDeps()) as Module,
  createRequest: linearCreateRequest(own.createRequest as never) as Module,
};

const messages = Array.from({ length: RECORDS }, (_, i) => ({
  partition: 0,
  key: randomBytes(16),
  value: randomBytes(VALUE + (i % 7)),
  headers: { 'sealpost.v': [randomBytes(1)], 'sealpost.s': [randomBytes(24)] },
}));
const args = {
  acks: -1,
  timeout: 30_000,
  producerId: 1234,
  producerEpoch: 0,
  topicData: [{ topic: 'bench', partitions: [{ partition: 0, firstSequence: 0, messages }] }],
};

const threadCpu = (
  process as unknown as { threadCpuUsage?: () => { user: number; system: number } }
).threadCpuUsage?.bind(process);

async function round(impl: typeof own): Promise<RoundCpu> {
  const t0 = process.cpuUsage();
  const m0 = threadCpu?.();
  let bytes = 0;
  for (let s = 0; s < SENDS; s++) {
    const request = impl.produce({ ...args, apiVersion: 7 });
    const framed = (await impl.createRequest({
      correlationId: s,
      clientId: 'bench',
      request,
    })) as { buffer: Buffer };
    bytes += framed.buffer.length;
  }
  const t = process.cpuUsage(t0);
  const m1 = threadCpu?.();
  if (bytes === 0) throw new Error('nothing encoded');
  const n = SENDS * RECORDS;
  return {
    cpu: (t.user + t.system) / n,
    main:
      m0 === undefined || m1 === undefined
        ? undefined
        : (m1.user - m0.user + m1.system - m0.system) / n,
  };
}

await ownVsLinear(
  round,
  own,
  linear,
  ROUNDS,
  2,
  `${ROUNDS} rounds × ${SENDS} sends × ${RECORDS} records of ${VALUE} B`,
);
