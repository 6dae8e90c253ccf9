import type { MetadataEvent } from '../events/metadata-event.js';
import { newestActiveRecord } from '../keys/policy.js';
import type { KeyDirectory } from '../keys/directory/key-directory.js';
import type { Clock } from '../runtime/clock.js';
import type { TokenKeyring } from './token-keyring.js';
import type { TokenValueType } from './token-cipher.js';
import { parseToken, type ParsedToken } from './token-string.js';
import { TokenizeError } from './tokenize-error.js';

/** Where detokenize audit events go (MetadataEventEmitter fits); it adds eventId, time and actor. */
export interface TokenAuditSink {
  emit(event: Omit<MetadataEvent, 'eventId' | 'timeMs' | 'actor'>): void;
}

/** Options of {@link Detokenizer}. */
export interface DetokenizerOptions {
  /** This service's identity: the directory must clear it for a token's class. */
  readonly identity: string;
  readonly keyring: TokenKeyring;
  readonly directory: KeyDirectory;
  readonly clock: Clock;
  /** Audit events (`detokenized`, `detokenize_refused`); strongly recommended. */
  readonly events?: TokenAuditSink;
}

/** What a token stood for. */
export type DetokenizedValue =
  | {
      readonly tokenClass: string;
      readonly version: number;
      readonly type: 'string';
      readonly value: string;
    }
  | {
      readonly tokenClass: string;
      readonly version: number;
      readonly type: 'bytes';
      readonly value: Uint8Array;
    };

/** Optional context recorded in the audit event (where the token was read). */
export interface DetokenizeContext {
  readonly topic?: string;
  readonly partition?: number;
  readonly offset?: string;
  readonly messageId?: string;
}

/**
 * The explicit detokenize call. Allowed only when the directory (fresh head) clears this identity's
 * newest active record for the token's class (`detokenizeClasses`); every call, allowed or refused,
 * emits an audit event with the class and version (never the token or the value).
 */
export class Detokenizer {
  readonly #o: DetokenizerOptions;
  readonly #decoder = new TextDecoder('utf-8', { fatal: true });

  constructor(options: DetokenizerOptions) {
    this.#o = options;
  }

  /** True if the directory currently clears this identity for `tokenClass`. */
  isCleared(tokenClass: string): boolean {
    return clearedClasses(this.#o.directory, this.#o.identity, this.#o.clock.nowMs()).includes(
      tokenClass,
    );
  }

  /** Maps a token back to its value; throws TokenizeError (see codes) and audits either way. */
  detokenize(token: string, context: DetokenizeContext = {}): DetokenizedValue {
    let parsed: ParsedToken | undefined;
    try {
      parsed = parseToken(token);
      if (parsed.mode === 'mask')
        throw new TokenizeError('TOKEN_NOT_REVERSIBLE', 'a mask cannot be detokenized');
      this.#o.directory.assertFresh();
      if (!this.isCleared(parsed.tokenClass)) {
        throw new TokenizeError(
          'DETOKENIZE_NOT_CLEARED',
          `identity ${this.#o.identity} is not cleared to detokenize class ${parsed.tokenClass}`,
        );
      }
      const plain = this.#o.keyring
        .version(parsed.tokenClass, parsed.version)
        .open(parsed.bytes, parsed.type);
      const result = this.#result(parsed, plain);
      this.#emit('detokenized', parsed, context, undefined);
      return result;
    } catch (err) {
      const code =
        typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string'
          ? err.code
          : 'ERROR';
      this.#emit('detokenize_refused', parsed, context, code);
      throw err;
    }
  }

  #result(parsed: ParsedToken, plain: Uint8Array): DetokenizedValue {
    const base = { tokenClass: parsed.tokenClass, version: parsed.version };
    if (parsed.type === 'bytes') return { ...base, type: 'bytes', value: plain };
    try {
      return { ...base, type: 'string', value: this.#decoder.decode(plain) };
    } catch (err) {
      throw new TokenizeError('TOKEN_INVALID', 'the token does not hold UTF-8 text', {
        cause: err,
      });
    } finally {
      plain.fill(0);
    }
  }

  #emit(
    type: 'detokenized' | 'detokenize_refused',
    parsed: ParsedToken | undefined,
    c: DetokenizeContext,
    code: string | undefined,
  ): void {
    const what =
      parsed === undefined
        ? 'class=?'
        : `class=${parsed.tokenClass};version=${parsed.version};type=${typeName(parsed.type)}`;
    this.#o.events?.emit({
      type,
      detail: code === undefined ? what : `${code};${what}`,
      ...(c.topic === undefined ? {} : { topic: c.topic }),
      ...(c.partition === undefined ? {} : { partition: c.partition }),
      ...(c.offset === undefined ? {} : { offset: c.offset }),
      ...(c.messageId === undefined ? {} : { messageId: c.messageId }),
    });
  }
}

function typeName(t: TokenValueType): string {
  return t;
}

/**
 * The classes the directory clears `identity` for now: from its newest active record valid now (the
 * same record the send/receive policy uses). Empty for an unknown, retired or revoked identity.
 */
export function clearedClasses(
  directory: KeyDirectory,
  identity: string,
  nowMs: number,
): readonly string[] {
  return newestActiveRecord(directory.records(), identity, nowMs)?.detokenizeClasses ?? [];
}
