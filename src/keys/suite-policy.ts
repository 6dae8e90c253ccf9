import { ConfigError } from '../errors.js';
import { TOPIC_PATTERN } from './directory/directory-record.js';
import type { RecipientKey } from './directory/key-directory.js';
import { PolicyError } from './policy.js';

/**
 * Which envelope suite a topic uses (docs/SECURITY.md "Post-quantum sealing"): suite 1 seals each
 * session's seed in X25519 sealed boxes, suite 2 in X-Wing (ML-KEM-768 + X25519) slots.
 *
 * - `classical` (the default for every topic): the producer seals suite 1; a consumer opens suite 2
 *   only when `classicalOpensSuite2` is set (otherwise it refuses the record: SUITE_NOT_ALLOWED).
 * - `allow`: the producer seals suite 2 when every recipient publishes an X-Wing key, else suite 1;
 *   a consumer opens both.
 * - `require`: the producer seals suite 2 only (POLICY_RECIPIENT_NO_XWING_KEY when a recipient has
 *   no X-Wing key); a consumer refuses suite-1 records (SUITE_NOT_ALLOWED, dead-lettered): nobody can
 *   downgrade the topic by writing classical records to it.
 */
export type SuiteMode = 'classical' | 'allow' | 'require';

/** The modes, in the order of increasing protection. */
export const SUITE_MODES: readonly SuiteMode[] = ['classical', 'allow', 'require'];

export interface SuitePolicyOptions {
  /**
   * Topic pattern → mode. A pattern is a topic name, or a prefix ending in `*` (`*` alone: every
   * topic). An exact name wins over a prefix, a longer prefix over a shorter one; a topic no pattern
   * matches is `classical`.
   */
  readonly topics?: Readonly<Record<string, SuiteMode>>;
  /** Whether a consumer opens suite-2 records on a `classical` topic (default false). */
  readonly classicalOpensSuite2?: boolean;
}

/**
 * Problems of a policy's options, one message each (empty when valid): unknown modes and patterns that
 * are not a topic name or a prefix ending in `*`.
 */
export function suitePolicyProblems(options: SuitePolicyOptions): string[] {
  const problems: string[] = [];
  for (const [pattern, mode] of Object.entries(options.topics ?? {})) {
    if (!TOPIC_PATTERN.test(pattern))
      problems.push(
        `"${pattern}" is not a topic name or a prefix ending in * (letters, digits, . _ -)`,
      );
    if (!SUITE_MODES.includes(mode))
      problems.push(`"${pattern}": mode must be classical, allow or require`);
  }
  return problems;
}

/**
 * Parses the SEALPOST_SUITE_POLICY form, `pattern=mode` pairs separated by commas (e.g.
 * `orders.v1=require,payments.*=allow`). Returns the map and the problems found.
 */
export function parseSuitePolicyText(text: string): {
  readonly topics: Record<string, SuiteMode>;
  readonly problems: readonly string[];
} {
  const topics: Record<string, SuiteMode> = {};
  const problems: string[] = [];
  for (const part of text.split(',')) {
    const item = part.trim();
    if (item === '') continue;
    const eq = item.indexOf('=');
    if (eq <= 0) {
      problems.push(`"${item}" must be pattern=mode (mode: classical, allow or require)`);
      continue;
    }
    const pattern = item.slice(0, eq).trim();
    const mode = item.slice(eq + 1).trim();
    if (Object.hasOwn(topics, pattern)) {
      problems.push(`"${pattern}" is given twice`);
      continue;
    }
    topics[pattern] = mode as SuiteMode;
  }
  problems.push(...suitePolicyProblems({ topics }));
  return { topics, problems };
}

/** See the module comment. Immutable; resolve it once and share it. */
export class SuitePolicy {
  /** Every topic `classical`, suite 2 never opened: what sealpost did before suite 2. */
  static readonly CLASSICAL = new SuitePolicy({});

  readonly #exact = new Map<string, SuiteMode>();
  /** Prefix patterns, longest first. */
  readonly #prefixes: { readonly prefix: string; readonly mode: SuiteMode }[] = [];
  readonly #classicalOpensSuite2: boolean;

  /** Throws ConfigError ARGUMENT_INVALID listing every problem of `options`. */
  constructor(options: SuitePolicyOptions) {
    const problems = suitePolicyProblems(options);
    if (problems.length > 0)
      throw new ConfigError(
        'ARGUMENT_INVALID',
        `invalid suite policy:\n  - ${problems.join('\n  - ')}`,
        problems,
      );
    for (const [pattern, mode] of Object.entries(options.topics ?? {})) {
      if (pattern.endsWith('*')) this.#prefixes.push({ prefix: pattern.slice(0, -1), mode });
      else this.#exact.set(pattern, mode);
    }
    this.#prefixes.sort((a, b) => b.prefix.length - a.prefix.length);
    this.#classicalOpensSuite2 = options.classicalOpensSuite2 === true;
  }

  /** The mode of `topic`. */
  modeFor(topic: string): SuiteMode {
    const exact = this.#exact.get(topic);
    if (exact !== undefined) return exact;
    for (const p of this.#prefixes) if (topic.startsWith(p.prefix)) return p.mode;
    return 'classical';
  }

  /** True when some topic may be sealed or opened in suite 2 (its envelope schema is then needed). */
  get usesSuite2(): boolean {
    return (
      this.#classicalOpensSuite2 ||
      [...this.#exact.values(), ...this.#prefixes.map((p) => p.mode)].some((m) => m !== 'classical')
    );
  }

  /**
   * Producer side: the suite to seal a session of `topic` to `recipients` in. Throws PolicyError
   * POLICY_RECIPIENT_NO_XWING_KEY on a `require` topic when a recipient publishes no X-Wing key.
   */
  sealingSuite(topic: string, recipients: readonly RecipientKey[]): 1 | 2 {
    const mode = this.modeFor(topic);
    if (mode === 'classical') return 1;
    const lacking = recipients.filter((r) => r.kem === undefined).map((r) => r.identity);
    if (lacking.length === 0 && recipients.length > 0) return 2;
    if (mode === 'allow') return 1;
    throw new PolicyError(
      'POLICY_RECIPIENT_NO_XWING_KEY',
      `topic ${topic} requires suite 2 (X-Wing) but ${[...new Set(lacking)].join(', ')} publish no X-Wing key: rotate them with --xwing and publish the directory`,
    );
  }

  /** Consumer side: whether a record of `suite` may be opened on `topic`. */
  opens(topic: string, suite: number): boolean {
    const mode = this.modeFor(topic);
    if (suite === 1) return mode !== 'require';
    if (suite === 2) return mode !== 'classical' || this.#classicalOpensSuite2;
    return false;
  }
}
