/**
 * kafkajs' producer groups a send's messages by partition with the linear function
 * src/kafka/kafkajs-grouping.ts installs, which gives kafkajs' own result; when kafkajs was loaded
 * before it, kafkajs keeps its own. Each case runs in a fresh Node process (the module cache is per
 * process and vitest's workers share it between test files).
 */
import { describe, expect, it } from 'vitest';
import { runFreshScriptForJson } from '../../support/fresh-process.js';

const REQUIRE = `
import { createRequire } from 'node:module';
const require = createRequire(process.cwd() + '/package.json');
const used = () => require('kafkajs/src/producer/groupMessagesPerPartition.js');
`;

describe('kafkajs grouping by partition', () => {
  it('the transport installs the linear grouping before kafkajs loads', () => {
    const out = runFreshScriptForJson(`
      ${REQUIRE}
      const { kafkajsGrouping, groupMessagesPerPartition } = await import('./src/kafka/kafkajs-grouping.ts');
      await import('./src/kafka/kafkajs-transport.ts');
      console.log(JSON.stringify({ state: kafkajsGrouping, installed: used() === groupMessagesPerPartition }));
    `);
    expect(out).toEqual({ state: { kind: 'linear' }, installed: true });
  });

  it('agrees with kafkajs own on 300 random sends; kafkajs loaded first keeps its own, and says why', () => {
    const out = runFreshScriptForJson(`
      ${REQUIRE}
      const own = used();
      const { kafkajsGrouping, groupMessagesPerPartition } = await import('./src/kafka/kafkajs-grouping.ts');
      const same = (a, b) =>
        JSON.stringify(Object.keys(a)) === JSON.stringify(Object.keys(b)) &&
        Object.keys(a).every((k) => a[k].length === b[k].length && a[k].every((m, i) => m === b[k][i]));
      let agree = 0;
      for (let n = 0; n < 300; n++) {
        const partitions = 1 + (n % 7);
        const partitionMetadata = n % 50 === 0 ? [] : Array.from({ length: partitions }, (_, partitionId) => ({ partitionId }));
        const messages = Array.from({ length: n % 40 }, () => ({ p: Math.floor(Math.random() * partitions) }));
        const args = { topic: 't', partitionMetadata, messages, partitioner: ({ message }) => message.p };
        if (same(own(args), groupMessagesPerPartition(args))) agree++;
      }
      console.log(JSON.stringify({ state: kafkajsGrouping, kept: used() === own, agree }));
    `);
    expect(out).toEqual({
      state: { kind: 'kafkajs', reason: 'kafkajs grouping already loaded' },
      kept: true,
      agree: 300,
    });
  });

  it('a transport made after kafkajs was loaded first warns once that kafkajs keeps its own; none otherwise', () => {
    const script = (kafkajsFirst: boolean) => `
      ${REQUIRE}
      ${kafkajsFirst ? "require('kafkajs');" : ''}
      const { createKafkajsTransport } = await import('./src/kafka/kafkajs-transport.ts');
      const warnings = [];
      const logger = { warn: (...a) => warnings.push(a.map(String).join(' ')), info() {}, error() {}, debug() {}, child() { return logger; } };
      for (let i = 0; i < 2; i++) createKafkajsTransport({ brokers: ['127.0.0.1:1'], clientId: 'c', logger, nowMs: () => 0 });
      console.log(JSON.stringify({ warnings }));
    `;
    const first = runFreshScriptForJson<{ warnings: string[] }>(script(true));
    expect(first.warnings).toHaveLength(1);
    expect(first.warnings[0]).toMatch(/kafkajs was loaded before sealpost/);
    expect(runFreshScriptForJson(script(false))).toEqual({ warnings: [] });
  });
});
