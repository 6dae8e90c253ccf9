import type { SerializedError } from '@vitest/utils';
import type { Reporter, TestModule } from 'vitest/node';

/**
 * Prints one plain closing line, `N passed, N failed[, N skipped]`, that CI reads whatever the
 * runner's own format is. A test file that fails to load (its tests never ran) counts as one failure,
 * and so does every unhandled error, so the line never looks greener than the run.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(
    testModules: ReadonlyArray<TestModule>,
    unhandledErrors: ReadonlyArray<SerializedError>,
  ): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const mod of testModules) {
      let failedHere = 0;
      for (const test of mod.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') failedHere++;
        else skipped++;
      }
      // A module whose collection or hooks failed has errors of its own and maybe no failed test.
      if (failedHere === 0 && (!mod.ok() || mod.errors().length > 0)) failedHere = 1;
      failed += failedHere;
    }
    failed += unhandledErrors.length;
    const tail = skipped > 0 ? `, ${skipped} skipped` : '';
    process.stdout.write(`\nsealpost: ${passed} passed, ${failed} failed${tail}\n`);
  }
}
