/**
 * Derives the Kafka ACLs each service identity needs from the signed key directory (least privilege
 * at the broker, beside sealing): a service's mTLS certificate has subject `CN=<identity>`, so its
 * principal is `User:CN=<identity>`, and it gets
 * - WRITE + DESCRIBE on the topics it may send to, READ + DESCRIBE on those it may receive from
 *   (a directory pattern `prefix*` becomes a PREFIXED resource, `*` the LITERAL wildcard);
 * - READ on consumer groups named `<identity>.<anything>` (PREFIXED `<identity>.`) when it receives;
 * - WRITE + DESCRIBE on the metadata topic (every service emits audit events);
 * - for receivers: WRITE + DESCRIBE on the dead-letter topic, READ + WRITE + DESCRIBE on the state topic;
 * - the audit identity: READ on the metadata topic, WRITE + READ on the checkpoint topic, its group
 *   (PREFIXED, so the replay-state scan groups `<group>.sealpost-state-scan.<hex>` are covered);
 * - the dead-letter worker: READ on the dead-letter topic, its group (PREFIXED likewise), WRITE on the
 *   topics it may release to (already in its directory send topics);
 * - with a directory topic: READ + DESCRIBE on it, READ + DELETE on the reader groups
 *   (`sealpost-directory-reader-` prefix; the reader deletes its throwaway group).
 * Revoked identities (no active or retiring record) get nothing.
 */
import type {
  AclBinding,
  AclOperation,
  AclPatternType,
  AclResourceType,
} from '../kafka/acl-binding.js';
import { aclBindingKey } from '../kafka/acl-binding.js';
import { IDENTITY_NAME_PATTERN } from '../keys/identity.js';
import { TOPIC_PATTERN } from '../keys/directory/directory-record.js';
import { AclError } from './acl-error.js';

/** What the planner reads from a directory record (DirectoryRecord and DirectorySummary rows fit). */
export interface AclDirectoryRecord {
  readonly identity: string;
  readonly status: 'active' | 'retiring' | 'revoked';
  readonly sendTopics: readonly string[];
  readonly receiveTopics: readonly string[];
}

/** Deployment conventions (defaults match the config defaults in src/config/config.ts). */
export interface AclConventions {
  readonly metadataTopic: string;
  readonly deadLetterTopic: string;
  readonly stateTopic: string;
  readonly checkpointTopic: string;
  /** The compacted directory topic, when services read the directory from Kafka. */
  readonly directoryTopic?: string;
  /** The audit worker's identity and consumer group. */
  readonly auditIdentity: string;
  readonly auditGroup: string;
  /** The dead-letter worker's identity and consumer group. */
  readonly deadLetterIdentity: string;
  readonly deadLetterGroup: string;
  /** Principal of an identity's certificate. Default `User:CN=<identity>`. */
  readonly principalOf?: (identity: string) => string;
}

/** Defaults for the conventions (topic names as in the config defaults). */
export const DEFAULT_ACL_CONVENTIONS: AclConventions = {
  metadataTopic: 'sealpost.metadata',
  deadLetterTopic: 'sealpost.dead-letter',
  stateTopic: 'sealpost.consumer-state',
  checkpointTopic: 'sealpost.audit-checkpoints',
  auditIdentity: 'audit',
  auditGroup: 'sealpost-audit',
  deadLetterIdentity: 'dlq',
  deadLetterGroup: 'sealpost-dlq-worker',
};

/** The principal of an identity's mTLS certificate under the default mapping. */
export function defaultPrincipal(identity: string): string {
  return `User:CN=${identity}`;
}

/** Consumer groups of an identity must start with this (PREFIXED group ACL). */
export function groupPrefixOf(identity: string): string {
  return `${identity}.`;
}

/** The directory reader's throwaway groups (src/keys/directory/directory-topic-values.ts). */
export const DIRECTORY_READER_GROUP_PREFIX = 'sealpost-directory-reader-';

/** The planned ACLs: one sorted, duplicate-free list, plus the principals the plan manages. */
export interface AclPlan {
  readonly bindings: readonly AclBinding[];
  /** Principals of every identity in the directory (revoked ones too: their old ACLs are removed). */
  readonly principals: readonly string[];
}

/** Builds the plan (pure). Throws AclError for an identity or topic the broker could not take. */
export function planAcls(
  records: readonly AclDirectoryRecord[],
  conventions: AclConventions = DEFAULT_ACL_CONVENTIONS,
): AclPlan {
  const principalOf = conventions.principalOf ?? defaultPrincipal;
  for (const t of [
    conventions.metadataTopic,
    conventions.deadLetterTopic,
    conventions.stateTopic,
    conventions.checkpointTopic,
    ...(conventions.directoryTopic === undefined ? [] : [conventions.directoryTopic]),
  ]) {
    if (!TOPIC_PATTERN.test(t) || t.endsWith('*'))
      throw new AclError('ACL_INPUT_INVALID', `"${t}" is not a topic name`);
  }
  const byIdentity = new Map<string, { send: Set<string>; receive: Set<string>; live: boolean }>();
  for (const r of records) {
    if (!IDENTITY_NAME_PATTERN.test(r.identity))
      throw new AclError('ACL_INPUT_INVALID', `"${r.identity}" is not an identity name`);
    let e = byIdentity.get(r.identity);
    if (e === undefined) {
      e = { send: new Set(), receive: new Set(), live: false };
      byIdentity.set(r.identity, e);
    }
    // Retiring keys may still send in-flight sessions and open old ones: the principal keeps its rights.
    if (r.status === 'revoked') continue;
    e.live = true;
    for (const t of r.sendTopics) e.send.add(t);
    for (const t of r.receiveTopics) e.receive.add(t);
  }
  const out = new Map<string, AclBinding>();
  const add = (
    principal: string,
    resourceType: AclResourceType,
    name: string,
    patternType: AclPatternType,
    ops: readonly AclOperation[],
  ): void => {
    for (const operation of ops) {
      const b: AclBinding = {
        resourceType,
        resourceName: name,
        patternType,
        principal,
        host: '*',
        operation,
        permission: 'ALLOW',
      };
      out.set(aclBindingKey(b), b);
    }
  };
  const topic = (principal: string, pattern: string, ops: readonly AclOperation[]): void => {
    if (!TOPIC_PATTERN.test(pattern))
      throw new AclError('ACL_INPUT_INVALID', `"${pattern}" is not a topic pattern`);
    if (pattern === '*') add(principal, 'TOPIC', '*', 'LITERAL', ops);
    else if (pattern.endsWith('*')) add(principal, 'TOPIC', pattern.slice(0, -1), 'PREFIXED', ops);
    else add(principal, 'TOPIC', pattern, 'LITERAL', ops);
  };
  for (const [identity, e] of byIdentity) {
    if (!e.live) continue;
    const p = principalOf(identity);
    for (const t of e.send) topic(p, t, ['WRITE', 'DESCRIBE']);
    for (const t of e.receive) topic(p, t, ['READ', 'DESCRIBE']);
    topic(p, conventions.metadataTopic, ['WRITE', 'DESCRIBE']);
    if (e.receive.size > 0) {
      add(p, 'GROUP', groupPrefixOf(identity), 'PREFIXED', ['READ']);
      topic(p, conventions.deadLetterTopic, ['WRITE', 'DESCRIBE']);
      topic(p, conventions.stateTopic, ['READ', 'WRITE', 'DESCRIBE']);
    }
    if (identity === conventions.auditIdentity) {
      topic(p, conventions.metadataTopic, ['READ']);
      topic(p, conventions.checkpointTopic, ['READ', 'WRITE', 'DESCRIBE']);
      // PREFIXED: the consumer's replay-state scan uses `<group>.sealpost-state-scan.<hex>`.
      add(p, 'GROUP', conventions.auditGroup, 'PREFIXED', ['READ']);
    }
    if (identity === conventions.deadLetterIdentity) {
      topic(p, conventions.deadLetterTopic, ['READ', 'DESCRIBE']);
      add(p, 'GROUP', conventions.deadLetterGroup, 'PREFIXED', ['READ']);
    }
    if (conventions.directoryTopic !== undefined) {
      topic(p, conventions.directoryTopic, ['READ', 'DESCRIBE']);
      add(p, 'GROUP', DIRECTORY_READER_GROUP_PREFIX, 'PREFIXED', ['READ', 'DELETE']);
    }
  }
  const bindings = [...out.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, b]) => b);
  return { bindings, principals: [...byIdentity.keys()].map(principalOf).sort() };
}

/** What `acl apply` would change: bindings to create and managed bindings to delete. */
export interface AclDiff {
  readonly add: readonly AclBinding[];
  readonly remove: readonly AclBinding[];
  /** Bindings already present and wanted. */
  readonly unchanged: number;
}

/**
 * Diffs the plan against the cluster's bindings. Only bindings of the plan's principals are ever
 * removed (an operator's own ACLs, or other principals', are left alone).
 */
export function diffAcls(plan: AclPlan, current: readonly AclBinding[]): AclDiff {
  const managed = new Set(plan.principals);
  const have = new Map(
    current.filter((b) => managed.has(b.principal)).map((b) => [aclBindingKey(b), b]),
  );
  const want = new Map(plan.bindings.map((b) => [aclBindingKey(b), b]));
  const add = [...want].filter(([k]) => !have.has(k)).map(([, b]) => b);
  const remove = [...have]
    .filter(([k]) => !want.has(k))
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([, b]) => b);
  return { add, remove, unchanged: want.size - add.length };
}

/** One line per binding, for a human diff (`+` add, `-` remove). */
export function formatBinding(b: AclBinding): string {
  const pattern = b.patternType === 'PREFIXED' ? `${b.resourceName}*` : b.resourceName;
  return `${b.principal} ${b.permission} ${b.operation} ${b.resourceType.toLowerCase()}:${pattern}${b.host === '*' ? '' : ` host=${b.host}`}`;
}
