import type { CryptoProvider } from '../crypto/provider.js';
import type { Clock } from '../runtime/clock.js';
import type { DirectorySource } from './directory/directory-document.js';
import {
  DirectorySenderResolver,
  usableOpeningKeys,
} from './directory/directory-sender-resolver.js';
import type { RefusedEntry } from './directory/directory-snapshot.js';
import type { DirectoryStateStore } from './directory/directory-state.js';
import { KeyDirectory, type DirectoryAlert } from './directory/key-directory.js';
import { loadIdentity, readIdentityFile } from './identity-file.js';
import type { LoadedIdentity, UnwrappedKeyPair } from './identity.js';
import type { Kms } from './kms/kms.js';
import { DirectoryPolicy } from './policy.js';

export interface ServiceKeysOptions {
  /** The service's identity file. */
  readonly identityPath: string;
  /** The KMS that wrapped it (wrap it in RetryingKms with a deadline so a down KMS fails start-up in bounded time). */
  readonly kms: Kms;
  readonly crypto: CryptoProvider;
  readonly clock: Clock;
  /** The pinned authority public key (32 bytes). */
  readonly authorityPublicKey: Uint8Array;
  readonly directorySource: DirectorySource;
  /** Re-read the directory this often (default 60 000 ms; 0 = never, call refresh yourself). */
  readonly refreshIntervalMs?: number;
  readonly onRefreshError?: (err: unknown) => void;
  readonly onRefused?: (refused: readonly RefusedEntry[]) => void;
  /** Where the newest accepted directory head is kept across restarts (refuses rollback after a restart). */
  readonly directoryState?: DirectoryStateStore;
  /** Rollback / equivocation refused, or the directory state not saved (see KeyDirectoryOptions). */
  readonly onAlert?: (alert: DirectoryAlert) => void;
  /** Clock skew tolerated by the directory and the policy (default 60 000 ms). */
  readonly skewMs?: number;
}

/**
 * Everything key-related a service holds at run time, built once at start-up: its identity (unwrapped
 * once — one KMS call per key, none afterwards), the validated directory (refreshed in the background),
 * the policy, and the envelope's SenderResolver. If any part fails, start-up fails and nothing stays
 * in memory. `close()` stops the refresh and zeros the keys.
 */
export class ServiceKeys {
  readonly identity: LoadedIdentity;
  readonly directory: KeyDirectory;
  readonly policy: DirectoryPolicy;
  readonly resolver: DirectorySenderResolver;

  private constructor(identity: LoadedIdentity, directory: KeyDirectory, policy: DirectoryPolicy) {
    this.identity = identity;
    this.directory = directory;
    this.policy = policy;
    this.resolver = new DirectorySenderResolver(directory);
  }

  static async open(options: ServiceKeysOptions): Promise<ServiceKeys> {
    const file = await readIdentityFile(options.identityPath, options.crypto);
    const identity = await loadIdentity(file, { crypto: options.crypto, kms: options.kms });
    try {
      const directory = await KeyDirectory.open({
        crypto: options.crypto,
        authorityPublicKey: options.authorityPublicKey,
        source: options.directorySource,
        clock: options.clock,
        ...(options.skewMs === undefined ? {} : { skewMs: options.skewMs }),
        ...(options.onRefused === undefined ? {} : { onRefused: options.onRefused }),
        ...(options.directoryState === undefined ? {} : { state: options.directoryState }),
        ...(options.onAlert === undefined ? {} : { onAlert: options.onAlert }),
      });
      const interval = options.refreshIntervalMs ?? 60_000;
      if (interval > 0)
        directory.startAutoRefresh(interval, options.onRefreshError ?? (() => undefined));
      const policy = new DirectoryPolicy(directory, {
        clock: options.clock,
        ...(options.skewMs === undefined ? {} : { skewMs: options.skewMs }),
      });
      return new ServiceKeys(identity, directory, policy);
    } catch (err) {
      identity.close();
      throw err;
    }
  }

  /** The directory namespace (authority kid) for envelope headers. */
  get namespace(): Uint8Array {
    return this.directory.namespace;
  }

  /** The Ed25519 key to seal with. */
  signingKey(): UnwrappedKeyPair {
    return this.identity.signingKey();
  }

  /** Our box keys the opener may use now (active/retiring, listed, not revoked). Re-read after an epoch change. */
  openingKeys(): UnwrappedKeyPair[] {
    return usableOpeningKeys(this.identity, this.directory);
  }

  close(): void {
    this.directory.stopAutoRefresh();
    this.identity.close();
  }
}
