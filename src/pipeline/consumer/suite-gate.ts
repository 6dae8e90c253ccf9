/**
 * The consumer's side of the per-topic suite policy (docs/SECURITY.md "Post-quantum sealing"): before
 * a record reaches the opener, its suite must be one the topic accepts — a `require` topic refuses
 * suite 1 (downgrade protection), a `classical` one refuses suite 2 unless configured to open it.
 * A refusal is EnvelopeError SUITE_NOT_ALLOWED (coarse CONTEXT), which the record processor
 * dead-letters like any rejection, with the record's original bytes.
 */
import type { EnvelopeOpener, OpenHooks, OpenResult } from '../../envelope/envelope-opener.js';
import type { RecordContext } from '../../envelope/opened-session.js';
import { EnvelopeError } from '../../envelope/errors.js';
import type { SuitePolicy } from '../../keys/suite-policy.js';
import { envelopeSuiteOf } from '../envelope-suite.js';

/** An opener that applies the suite policy first, then opens with `inner`. */
export class SuiteGate implements Pick<EnvelopeOpener, 'open'> {
  readonly #inner: Pick<EnvelopeOpener, 'open'>;
  readonly #policy: SuitePolicy;

  constructor(inner: Pick<EnvelopeOpener, 'open'>, policy: SuitePolicy) {
    this.#inner = inner;
    this.#policy = policy;
  }

  open(value: Uint8Array, ctx: RecordContext, hooks?: OpenHooks): OpenResult {
    const suite = envelopeSuiteOf(value);
    if (suite !== undefined && !this.#policy.opens(ctx.topic, suite))
      throw new EnvelopeError(
        'SUITE_NOT_ALLOWED',
        `suite ${suite} records are not accepted on ${ctx.topic} (suite policy: ${this.#policy.modeFor(ctx.topic)})`,
      );
    return this.#inner.open(value, ctx, hooks);
  }
}
