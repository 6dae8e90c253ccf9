/**
 * Kafka ACL bindings as the transport port sees them (client-agnostic; both adapters hand them to
 * their clients in Kafka's wire codes, below). A binding allows or denies one operation on one resource pattern to one principal.
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

/**
 * A binding in Kafka's wire codes (the protocol's ResourceType, PatternType, AclOperation and
 * AclPermissionType numbers), which both clients' enums carry unchanged.
 */
export interface WireAcl {
  readonly resourceType: number;
  readonly resourceName: string;
  readonly resourcePatternType: number;
  readonly principal: string;
  readonly host: string;
  readonly operation: number;
  readonly permissionType: number;
}

/** What a DescribeAcls response holds per resource pattern (both clients return this shape). */
export interface WireAclResource {
  readonly resourceType: number;
  readonly resourceName: string;
  readonly resourcePatternType: number;
  readonly acls: readonly {
    readonly principal: string;
    readonly host: string;
    readonly operation: number;
    readonly permissionType: number;
  }[];
}

/** Kafka's wire codes of the values sealpost uses (test/unit/kafka/acl-wire.test.ts checks them). */
export const ACL_WIRE_CODES = {
  resourceType: { TOPIC: 2, GROUP: 3, CLUSTER: 4, TRANSACTIONAL_ID: 5 },
  patternType: { LITERAL: 3, PREFIXED: 4 },
  permission: { DENY: 2, ALLOW: 3 },
  operation: {
    ALL: 2,
    READ: 3,
    WRITE: 4,
    CREATE: 5,
    DELETE: 6,
    ALTER: 7,
    DESCRIBE: 8,
    CLUSTER_ACTION: 9,
    DESCRIBE_CONFIGS: 10,
    ALTER_CONFIGS: 11,
    IDEMPOTENT_WRITE: 12,
  },
} as const satisfies {
  resourceType: Record<AclResourceType, number>;
  patternType: Record<AclPatternType, number>;
  permission: Record<AclPermission, number>;
  operation: Record<AclOperation, number>;
};

function fromCode<K extends string>(
  table: Readonly<Record<K, number>>,
  code: number,
): K | undefined {
  for (const [k, v] of Object.entries(table) as [K, number][]) if (v === code) return k;
  return undefined;
}

/** A binding as both clients' create/delete calls take it. */
export function aclToWire(b: AclBinding): WireAcl {
  return {
    resourceType: ACL_WIRE_CODES.resourceType[b.resourceType],
    resourceName: b.resourceName,
    resourcePatternType: ACL_WIRE_CODES.patternType[b.patternType],
    principal: b.principal,
    host: b.host,
    operation: ACL_WIRE_CODES.operation[b.operation],
    permissionType: ACL_WIRE_CODES.permission[b.permission],
  };
}

/**
 * The bindings of a DescribeAcls response. Bindings of kinds sealpost does not manage are left out
 * (never deleted by a diff).
 */
export function aclsFromWire(resources: readonly WireAclResource[]): AclBinding[] {
  const out: AclBinding[] = [];
  for (const r of resources) {
    const resourceType = fromCode(ACL_WIRE_CODES.resourceType, r.resourceType);
    const patternType = fromCode(ACL_WIRE_CODES.patternType, r.resourcePatternType);
    for (const a of r.acls) {
      const operation = fromCode(ACL_WIRE_CODES.operation, a.operation);
      const permission = fromCode(ACL_WIRE_CODES.permission, a.permissionType);
      if (
        resourceType === undefined ||
        patternType === undefined ||
        operation === undefined ||
        permission === undefined
      )
        continue;
      out.push({
        resourceType,
        resourceName: r.resourceName,
        patternType,
        principal: a.principal,
        host: a.host,
        operation,
        permission,
      });
    }
  }
  return out;
}
