/**
 * The producer's sealing sessions and streams (docs/SPEC.md §4.1–4.2): one stream per topic, one
 * cached session per (topic, recipient set), ended when exhausted, expired, signed under an older
 * identity revision, or touched by a directory change (the sender's or a recipient's records).
 */
import type { CryptoProvider } from '../../crypto/provider.js';
import { STREAM_ID_BYTES } from '../../envelope/constants.js';
import { createSealingSession } from '../../envelope/sealing-session.js';
import { SequenceCounter } from '../../envelope/sequence-counter.js';
import type { KeyDirectory, RecipientKey } from '../../keys/directory/key-directory.js';
import type { LoadedIdentity } from '../../keys/identity.js';
import type { DirectoryPolicy } from '../../keys/policy.js';
import type { SuitePolicy } from '../../keys/suite-policy.js';
import type { Clock } from '../../runtime/clock.js';
import type { MetadataSink } from '../metadata-sink.js';
import { PipelineError } from '../pipeline-error.js';
import type { PipelineMetrics } from '../pipeline-metrics.js';
import type { ProducerSettings } from './producer-settings.js';
import type { ActiveSession, SealedProducerOptions } from './producer-types.js';
import { hex } from './record-key.js';
import type { SigningKeyGuard } from './signing-key-guard.js';

export interface SessionPoolOptions {
  readonly crypto: CryptoProvider;
  readonly clock: Clock;
  readonly identity: LoadedIdentity;
  readonly directory: KeyDirectory;
  readonly policy: DirectoryPolicy;
  /** Which suite a topic's sessions seal in (docs/SECURITY.md "Post-quantum sealing"). */
  readonly suites: SuitePolicy;
  readonly guard: SigningKeyGuard;
  readonly settings: ProducerSettings;
  readonly sealing: Pick<SealedProducerOptions, 'signEveryMessage' | 'padding'>;
  /** The envelope schema id of a suite (known after connect). */
  readonly envelopeSchemaId: (suite: 1 | 2) => number;
  readonly metrics?: PipelineMetrics;
  readonly events?: MetadataSink;
}

export class SessionPool {
  readonly #o: SessionPoolOptions;
  readonly #streams = new Map<string, SequenceCounter>();
  readonly #sessions = new Map<string, ActiveSession>();

  constructor(options: SessionPoolOptions) {
    this.#o = options;
  }

  /** The topic's stream (created at first use). */
  streamFor(topic: string): SequenceCounter {
    let s = this.#streams.get(topic);
    if (s === undefined) {
      s = new SequenceCounter(this.#o.crypto.randomBytes(STREAM_ID_BYTES));
      this.#streams.set(topic, s);
    }
    return s;
  }

  /** The topic's stream if it has one. */
  existingStream(topic: string): SequenceCounter | undefined {
    return this.#streams.get(topic);
  }

  /**
   * The usable session of (topic, recipient set), opening a new one when there is none, it is
   * exhausted or expired, or a directory change touched the sender or a recipient.
   */
  sessionFor(topic: string, explicit: readonly string[] | undefined): ActiveSession {
    const dir = this.#o.directory;
    const recipients = this.recipientsFor(topic, explicit);
    const setKey = `${topic}\n${recipients.map((r) => hex(r.kid)).join(',')}`;
    const current = this.#sessions.get(setKey);
    if (current !== undefined) {
      let usable =
        current.session.isUsable() && current.identityRevision === this.#o.identity.revision;
      if (usable && current.epoch !== dir.epoch) {
        usable = this.#touched(recipients) === current.touched;
        if (usable) current.epoch = dir.epoch;
      }
      if (usable) return current;
      current.session.close();
      this.#sessions.delete(setKey);
    }
    const active = this.openSession(topic, recipients, this.streamFor(topic));
    this.#sessions.set(setKey, active);
    return active;
  }

  /** The recipients to seal to on `topic` now (the directory fresh, the sender allowed). */
  recipientsFor(topic: string, explicit: readonly string[] | undefined): readonly RecipientKey[] {
    const policy = this.#o.policy;
    this.#o.directory.assertFresh();
    policy.assertMaySend(this.#o.identity.name, topic);
    const recipients =
      explicit === undefined
        ? policy.allowedRecipients(topic)
        : policy.recipientsFor(topic, explicit);
    if (recipients.length === 0)
      throw new PipelineError('NO_ALLOWED_RECIPIENTS', `no identity may receive on ${topic}`);
    return recipients;
  }

  /**
   * A new (uncached) sealing session of `stream` for `recipients`, signed by the current key, in the
   * suite the topic's policy picks (suite 2: to the recipients' X-Wing keys; never mixed).
   */
  openSession(
    topic: string,
    recipients: readonly RecipientKey[],
    stream: SequenceCounter,
  ): ActiveSession {
    const { directory: dir, settings, sealing } = this.#o;
    this.#o.guard.assertCurrent();
    const suite = this.#o.suites.sealingSuite(topic, recipients);
    const signing = this.#o.identity.signingKey();
    const session = createSealingSession({
      provider: this.#o.crypto,
      clock: this.#o.clock,
      envelopeSchemaId: this.#o.envelopeSchemaId(suite),
      namespace: dir.namespace,
      topic,
      senderSigningSecretKey: signing.secretKey,
      ...(suite === 2 ? { suite } : {}),
      recipients: recipients.map((r) =>
        suite === 2 && r.kem !== undefined
          ? { kid: r.kem.kid, publicKey: r.kem.publicKey }
          : { kid: r.kid, publicKey: r.publicKey },
      ),
      streamId: stream.streamId,
      lifetimeMs: settings.maxSessionAgeMs,
      maxMessages: settings.maxMessagesPerSession,
      ...(sealing.signEveryMessage === undefined
        ? {}
        : { signEveryMessage: sealing.signEveryMessage }),
      ...(sealing.padding === undefined ? {} : { padding: sealing.padding }),
      maxCiphertextBytes: settings.maxCiphertextBytes,
    });
    const active: ActiveSession = {
      session,
      recipients,
      suite,
      touched: this.#touched(recipients),
      epoch: dir.epoch,
      identityRevision: this.#o.identity.revision,
    };
    this.#o.metrics?.sessionsOpened.inc({ side: 'producer' });
    this.#o.events?.emit({
      type: 'session_opened',
      topic,
      recipients: recipients.map((r) => r.identity),
      ...(suite === 2 ? { suite } : {}),
    });
    settings.logger.debug(
      { topic, recipients: recipients.length, suite },
      'sealing session opened',
    );
    return active;
  }

  /** Ends (zeroing their keys) the sessions whose sender or recipient records a directory change touched. */
  endTouched(): void {
    for (const [k, s] of this.#sessions) {
      let keep: boolean;
      try {
        keep = this.#touched(s.recipients) === s.touched;
      } catch {
        keep = false;
      }
      if (keep) continue;
      s.session.close();
      this.#sessions.delete(k);
    }
  }

  /** Closes every session (zeroing its keys). */
  closeAll(): void {
    for (const s of this.#sessions.values()) s.session.close();
    this.#sessions.clear();
  }

  /** The serials of the directory records of the sender and these recipients (what a change would touch). */
  #touched(recipients: readonly RecipientKey[]): string {
    const names = new Set([this.#o.identity.name, ...recipients.map((r) => r.identity)]);
    return this.#o.directory
      .records()
      .filter((r) => names.has(r.identity))
      .map((r) => `${r.identity}/${hex(r.signKid)}/${r.serial}`)
      .sort()
      .join(',');
  }
}
