import type { TransportAdmin } from '../kafka/transport.js';
import type { AclDiff, AclPlan } from './acl-plan.js';
import { diffAcls } from './acl-plan.js';

/**
 * Applies a plan idempotently: reads the cluster's bindings, diffs (only the plan's principals are
 * touched), creates what is missing, deletes what is no longer wanted, and returns the diff it
 * applied. With `dryRun` it only returns the diff. Running it twice changes nothing the second time.
 */
export async function applyAcls(admin: Pick<TransportAdmin, 'describeAcls' | 'createAcls' | 'deleteAcls'>, plan: AclPlan, options: { dryRun?: boolean } = {}): Promise<AclDiff> {
  const diff = diffAcls(plan, await admin.describeAcls());
  if (options.dryRun === true) return diff;
  // Add before removing: a principal never loses a right it keeps across the change.
  await admin.createAcls(diff.add);
  await admin.deleteAcls(diff.remove);
  return diff;
}
