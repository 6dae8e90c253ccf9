/**
 * `npm run chaos -- <scenario>`: runs one scenario against the stack's 3-broker cluster and prints the
 * delivery ledger's verdict with its counts and the measured recovery times. Without
 * SEALPOST_STACK_PORT_OFFSET it uses offset 20000 — a cluster beside the default single-broker stack,
 * which it never touches — and starts that cluster (`up --brokers 3`) when it does not run. Every
 * scenario is bounded and stops by itself; exit code 0 on PASS, 1 on FAIL, 2 on bad usage.
 * The run folder (ledgers, configs, runner.log) stays under .stack/chaos/ for inspection.
 * `SEALPOST_TEST_TRANSPORT=platformatic` (under Node ≥ 22.22) runs the runner and its children on the
 * @platformatic/kafka adapter instead of kafkajs (test/support/test-transport.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

process.env.SEALPOST_STACK_PORT_OFFSET ??= '20000';
const { stackUp } = await import('../../stack/stack.js');
const { stackPaths } = await import('../../stack/paths.js');
const { parseEnvText } = await import('../../stack/env-file.js');
const { endpointVariables } = await import('../support/endpoints.js');
const { scenarios: firstScenarios, fmt } = await import('./scenarios.js');
const { moreScenarios } = await import('./more-scenarios.js');
const { groupScenarios } = await import('./group-scenarios.js');
const scenarios = [...firstScenarios, ...moreScenarios, ...groupScenarios];
const { makeHarness } = await import('./harness.js');
const { formatVerdict } = await import('./checker.js');
const { testTransportKind } = await import('../support/test-transport.js');

const name = process.argv[2];
const scenario = scenarios.find((s) => s.name === name);
if (scenario === undefined) {
  process.stderr.write(
    `usage: npm run chaos -- <scenario>\n${scenarios.map((s) => `  ${s.name.padEnd(16)} ${s.summary}`).join('\n')}\n`,
  );
  process.exit(2);
}

const began = Date.now();
await stackUp({
  brokers: 3,
  ...(scenario.persistentOpenbao === true ? { openbao: 'persistent' } : {}),
});
// This stack's endpoints, whatever the shell exported (the children inherit them).
const env = parseEnvText(readFileSync(stackPaths.envFile, 'utf8'));
for (const v of endpointVariables) if (env[v] !== undefined) process.env[v] = env[v];

// Every scenario starts on a settled cluster (all nodes up, every partition with its full ISR).
const { waitSettled } = await import('../../stack/faults.js');
await waitSettled({ timeoutMs: 180_000 });
const { brokerFaultProxies } = await import('../support/fault-proxy.js');
const proxies = scenario.proxiedConsumers === true ? await brokerFaultProxies() : undefined;
const h = await makeHarness(scenario.name, join(stackPaths.root, 'chaos'), {
  ...(proxies === undefined ? {} : { consumerBrokers: proxies.brokers }),
  ...(scenario.partitions === undefined ? {} : { partitions: scenario.partitions }),
});
h.proxies = proxies;
let exitCode = 1;
try {
  await scenario.prepare?.(h);
  for (const g of ['billing', 'shipping']) await h.startConsumer(g);
  await h.startProducer();
  const recoveries = await scenario.run(h);
  const verdict = await h.finish();
  const lines = [
    `scenario ${scenario.name} (Kafka client: ${testTransportKind()}): ${scenario.summary}`,
    formatVerdict(verdict),
    ...(h.checks.length === 0
      ? []
      : [
          "the scenario's own checks:",
          ...h.checks.map((c) => `  ${c.ok ? 'OK    ' : 'FAILED'} ${c.what}`),
        ]),
    'recovery (fault → first ack of a send begun after it; → first hand-out of a message sent after it):',
    ...recoveries.map(
      (r) =>
        `  ${r.fault}: ack ${fmt(r.toFirstAckMs)}; hand-out ${Object.entries(r.toFirstHandoutMs)
          .map(([g, ms]) => `${g} ${fmt(ms)}`)
          .join(
            ', ',
          )}${r.settleMs === undefined ? '' : `; settled ${fmt(r.settleMs)} after the restart`}`,
    ),
    `run folder: ${h.runDir}; took ${((Date.now() - began) / 1000).toFixed(0)} s`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  exitCode = verdict.ok && h.checks.every((c) => c.ok) ? 0 : 1;
} finally {
  await h.cleanup();
}
process.exit(exitCode);
