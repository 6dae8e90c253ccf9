/**
 * Kafka ACL bindings as the transport port sees them (client-agnostic; the kafkajs adapter maps them
 * to its enums). A binding allows or denies one operation on one resource pattern to one principal.
 */

/** Resource types sealpost grants on. */
export type AclResourceType = 'TOPIC' | 'GROUP' | 'CLUSTER' | 'TRANSACTIONAL_ID';
/** LITERAL matches the exact name; PREFIXED every name starting with it. */
export type AclPatternType = 'LITERAL' | 'PREFIXED';
export type AclOperation =
  | 'ALL'
  | 'READ'
  | 'WRITE'
  | 'CREATE'
  | 'DELETE'
  | 'ALTER'
  | 'DESCRIBE'
  | 'CLUSTER_ACTION'
  | 'DESCRIBE_CONFIGS'
  | 'ALTER_CONFIGS'
  | 'IDEMPOTENT_WRITE';
export type AclPermission = 'ALLOW' | 'DENY';

export interface AclBinding {
  readonly resourceType: AclResourceType;
  readonly resourceName: string;
  readonly patternType: AclPatternType;
  /** e.g. `User:CN=orders` (the mTLS principal of a certificate with subject CN=orders). */
  readonly principal: string;
  /** `*` for any host. */
  readonly host: string;
  readonly operation: AclOperation;
  readonly permission: AclPermission;
}

/** A stable text key of a binding (for diffs and sets). */
export function aclBindingKey(b: AclBinding): string {
  return [
    b.principal,
    b.permission,
    b.operation,
    b.resourceType,
    b.patternType,
    b.resourceName,
    b.host,
  ].join('|');
}
