import { defineConfig } from 'vitest/config';

/**
 * Two projects: `unit` (pure logic, no network) and `integration` (real Kafka, Schema Registry and
 * OpenBao from the local stack, or endpoints given by the environment). Integration files run one at a
 * time: the machine has two cores and one broker.
 */
export default defineConfig({
  test: {
    reporters: ['default', './test/support/summary-reporter.ts'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'integration',
          // The console's browser tests (test/browser) need the stack too (and chromium).
          include: ['test/integration/**/*.test.ts', 'test/browser/**/*.test.ts'],
          globalSetup: ['./test/support/stack-global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          // One file at a time: two cores, one broker.
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
        },
      },
    ],
  },
});
