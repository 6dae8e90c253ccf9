import { SealpostError } from '../errors.js';
import type { TransportAdmin } from '../kafka/transport.js';
import type { ACL_NOT_SETTLED_ERROR_CODES } from './acl-error.js';
import type { AclDiff, AclPlan } from './acl-plan.js';
import { diffAcls } from './acl-plan.js';

/** Options of {@link applyAcls}. */
export interface ApplyAclsOptions {
  /** Only compute the diff. */
  readonly dryRun?: boolean;
  /**
   * After applying, re-read the bindings until the diff is empty: KRaft applies ACL changes through
   * the metadata log, so a describe right after a create may not show them yet. Checks, default 50.
   */
  readonly settleChecks?: number;
  /** Pause between settle checks in ms (default 200). */
  readonly settleDelayMs?: number;
}

/** Thrown when the applied bindings did not all become visible within the settle checks (retriable). */
export class AclNotSettledError extends SealpostError {
  declare readonly code: keyof typeof ACL_NOT_SETTLED_ERROR_CODES;
  readonly remaining: AclDiff;
  constructor(remaining: AclDiff) {
    super(
      'ACL_NOT_SETTLED',
      `the broker did not show the applied ACLs in time (${remaining.add.length} missing, ${remaining.remove.length} still present)`,
      { retriable: true },
    );
    this.remaining = remaining;
  }
}

/**
 * Applies a plan idempotently: reads the cluster's bindings, diffs (only the plan's principals are
 * touched), creates what is missing, deletes what is no longer wanted, waits until the broker shows
 * the result, and returns the diff it applied. With `dryRun` it only returns the diff. Running it
 * twice changes nothing the second time.
 */
export async function applyAcls(
  admin: Pick<TransportAdmin, 'describeAcls' | 'createAcls' | 'deleteAcls'>,
  plan: AclPlan,
  options: ApplyAclsOptions = {},
): Promise<AclDiff> {
  const diff = diffAcls(plan, await admin.describeAcls());
  if (options.dryRun === true || (diff.add.length === 0 && diff.remove.length === 0)) return diff;
  // Add before removing: a principal never loses a right it keeps across the change.
  await admin.createAcls(diff.add);
  await admin.deleteAcls(diff.remove);
  const checks = options.settleChecks ?? 50;
  let remaining = diffAcls(plan, await admin.describeAcls());
  for (let i = 1; i < checks && (remaining.add.length > 0 || remaining.remove.length > 0); i++) {
    await new Promise((resolve) => setTimeout(resolve, options.settleDelayMs ?? 200));
    remaining = diffAcls(plan, await admin.describeAcls());
  }
  if (remaining.add.length > 0 || remaining.remove.length > 0)
    throw new AclNotSettledError(remaining);
  return diff;
}
