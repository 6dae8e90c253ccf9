/** The Node versions the @platformatic/kafka adapter accepts (its engines: >= 22.22.0 || >= 24.6.0). */
import { describe, expect, it } from 'vitest';
import { platformaticNodeProblem } from '../../../src/kafka/platformatic-node-version.js';

describe('platformaticNodeProblem', () => {
  it.each(['22.22.0', '22.23.5', '24.6.0', '24.22.3', '25.0.0'])('%s runs it', (v) => {
    expect(platformaticNodeProblem(v)).toBeUndefined();
  });
  it.each(['20.20.2', '22.21.9', '23.11.0', '24.5.0'])('%s is refused, naming itself', (v) => {
    expect(platformaticNodeProblem(v)).toBe(
      `@platformatic/kafka needs Node >= 22.22 (22.x) or >= 24.6; this is Node ${v}`,
    );
  });
});
