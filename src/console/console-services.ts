/**
 * What the console works on, passed in (docs/CONSOLE.md): the quarantine store the dead-letter worker
 * writes, the audit logs, and the operations the CLI runs — release (`sealpost quarantine release`),
 * verify (`sealpost audit verify`) — so that the console and the CLI share one code path.
 * `sealpost console` builds them from the configuration (src/cli/console-command.ts).
 */
import type { AuditStore } from '../audit/audit-store.js';
import type { ReleaseResult } from '../dlq/quarantine-release.js';
import type { QuarantineStore } from '../dlq/quarantine-store.js';

/** One audit log (one per metadata partition; docs/AUDIT.md). */
export interface ConsoleAuditLog {
  readonly partition: number | null;
  readonly origin: string;
  readonly store: AuditStore;
}

/** One log's verification, as `sealpost audit verify --json` reports it (the fields shown). */
export interface ConsoleLogVerifyReport {
  readonly partition: number | null;
  readonly origin: string;
  readonly ok: boolean;
  readonly chainOk: boolean;
  readonly count: number;
  readonly checkpointsVerified: number;
  readonly storedCheckpoints: number;
  readonly publishedCheckpoints: number | null;
  readonly firstBadIndex?: number;
  readonly problem?: string;
  readonly detail?: string;
  readonly tlogCheckpoints: {
    readonly ok: boolean;
    readonly checkpoints: number;
    readonly problem?: string;
  } | null;
}

export interface ConsoleVerifyResult {
  readonly ok: boolean;
  readonly logs: readonly ConsoleLogVerifyReport[];
  readonly missingLogs: readonly string[];
}

export interface ConsoleServices {
  readonly quarantine: QuarantineStore;
  /**
   * Releases one entry exactly as `sealpost quarantine release ID` does (signed by the configured
   * operator identity), recording `operator` as who released it.
   */
  release(id: number, operator: string): Promise<ReleaseResult>;
  /** Runs `body` on the configured audit logs (opened for the call, closed after). */
  withAuditLogs<T>(body: (logs: readonly ConsoleAuditLog[]) => Promise<T>): Promise<T>;
  /** `sealpost audit verify` with the configured options. */
  verifyAudit(): Promise<ConsoleVerifyResult>;
  /** Prometheus text of the metrics to show on the health page ('' when there is none). */
  metricsText(): Promise<string>;
}
