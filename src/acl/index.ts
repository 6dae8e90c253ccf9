/** Broker ACLs derived from the key directory (least privilege at Kafka). Named exports only. */
export { AclError } from './acl-error.js';
export type { AclErrorCode } from './acl-error.js';
export {
  DEFAULT_ACL_CONVENTIONS,
  defaultPrincipal,
  diffAcls,
  DIRECTORY_READER_GROUP_PREFIX,
  formatBinding,
  groupPrefixOf,
  planAcls,
} from './acl-plan.js';
export type { AclConventions, AclDiff, AclDirectoryRecord, AclPlan } from './acl-plan.js';
export { AclNotSettledError, applyAcls } from './acl-apply.js';
export type { ApplyAclsOptions } from './acl-apply.js';
