import { describe, expect, it } from 'vitest';
import { AclError } from '../../../src/acl/acl-error.js';
import { applyAcls } from '../../../src/acl/acl-apply.js';
import {
  DEFAULT_ACL_CONVENTIONS,
  diffAcls,
  formatBinding,
  planAcls,
  type AclDirectoryRecord,
} from '../../../src/acl/acl-plan.js';
import type { AclBinding } from '../../../src/kafka/acl-binding.js';

const records: AclDirectoryRecord[] = [
  { identity: 'orders', status: 'active', sendTopics: ['orders'], receiveTopics: [] },
  { identity: 'shipping', status: 'active', sendTopics: [], receiveTopics: ['orders'] },
  {
    identity: 'billing',
    status: 'retiring',
    sendTopics: ['invoices.*'],
    receiveTopics: ['orders'],
  },
  { identity: 'audit', status: 'active', sendTopics: [], receiveTopics: ['sealpost.metadata'] },
  { identity: 'dlq', status: 'active', sendTopics: ['*'], receiveTopics: [] },
  { identity: 'gone', status: 'revoked', sendTopics: ['orders'], receiveTopics: ['orders'] },
];

const lines = (bs: readonly AclBinding[], principal: string): string[] =>
  bs
    .filter((b) => b.principal === principal)
    .map(formatBinding)
    .sort();

describe('planAcls', () => {
  const plan = planAcls(records);

  it('gives a sender WRITE+DESCRIBE on its topics and the metadata topic, nothing to read', () => {
    expect(lines(plan.bindings, 'User:CN=orders')).toEqual([
      'User:CN=orders ALLOW DESCRIBE topic:orders',
      'User:CN=orders ALLOW DESCRIBE topic:sealpost.metadata',
      'User:CN=orders ALLOW WRITE topic:orders',
      'User:CN=orders ALLOW WRITE topic:sealpost.metadata',
    ]);
  });

  it('gives a receiver READ on its topics and groups, the dead-letter and state topics', () => {
    expect(lines(plan.bindings, 'User:CN=shipping')).toEqual([
      'User:CN=shipping ALLOW DESCRIBE topic:orders',
      'User:CN=shipping ALLOW DESCRIBE topic:sealpost.consumer-state',
      'User:CN=shipping ALLOW DESCRIBE topic:sealpost.dead-letter',
      'User:CN=shipping ALLOW DESCRIBE topic:sealpost.metadata',
      'User:CN=shipping ALLOW READ group:shipping.*',
      'User:CN=shipping ALLOW READ topic:orders',
      'User:CN=shipping ALLOW READ topic:sealpost.consumer-state',
      'User:CN=shipping ALLOW WRITE topic:sealpost.consumer-state',
      'User:CN=shipping ALLOW WRITE topic:sealpost.dead-letter',
      'User:CN=shipping ALLOW WRITE topic:sealpost.metadata',
    ]);
  });

  it('maps prefix patterns to PREFIXED and `*` to the literal wildcard; a retiring identity keeps its rights', () => {
    const billingWrites = plan.bindings.filter(
      (b) =>
        b.principal === 'User:CN=billing' &&
        b.operation === 'WRITE' &&
        b.resourceName.startsWith('invoices'),
    );
    expect(billingWrites).toEqual([
      {
        resourceType: 'TOPIC',
        resourceName: 'invoices.',
        patternType: 'PREFIXED',
        principal: 'User:CN=billing',
        host: '*',
        operation: 'WRITE',
        permission: 'ALLOW',
      },
    ]);
    expect(
      plan.bindings.some(
        (b) =>
          b.principal === 'User:CN=dlq' &&
          b.resourceName === '*' &&
          b.patternType === 'LITERAL' &&
          b.operation === 'WRITE',
      ),
    ).toBe(true);
  });

  it('gives the workers their own topics and groups', () => {
    const audit = lines(plan.bindings, 'User:CN=audit');
    expect(audit).toContain('User:CN=audit ALLOW READ topic:sealpost.metadata');
    expect(audit).toContain('User:CN=audit ALLOW WRITE topic:sealpost.audit-checkpoints');
    expect(audit).toContain('User:CN=audit ALLOW READ group:sealpost-audit*');
    const dlq = lines(plan.bindings, 'User:CN=dlq');
    expect(dlq).toContain('User:CN=dlq ALLOW READ topic:sealpost.dead-letter');
    expect(dlq).toContain('User:CN=dlq ALLOW READ group:sealpost-dlq-worker*');
    // Nobody but audit reads the metadata topic, nobody but dlq reads the dead-letter topic.
    expect(
      plan.bindings
        .filter((b) => b.operation === 'READ' && b.resourceName === 'sealpost.metadata')
        .map((b) => b.principal),
    ).toEqual(['User:CN=audit']);
    expect(
      plan.bindings
        .filter((b) => b.operation === 'READ' && b.resourceName === 'sealpost.dead-letter')
        .map((b) => b.principal),
    ).toEqual(['User:CN=dlq']);
  });

  it('gives a revoked identity nothing, but manages its principal (old ACLs get removed)', () => {
    expect(lines(plan.bindings, 'User:CN=gone')).toEqual([]);
    expect(plan.principals).toContain('User:CN=gone');
  });

  it('adds the directory topic and its reader groups when the directory lives in Kafka', () => {
    const p = planAcls(records.slice(0, 1), {
      ...DEFAULT_ACL_CONVENTIONS,
      directoryTopic: 'sealpost.directory',
    });
    expect(lines(p.bindings, 'User:CN=orders')).toEqual(
      expect.arrayContaining([
        'User:CN=orders ALLOW READ topic:sealpost.directory',
        'User:CN=orders ALLOW DELETE group:sealpost-directory-reader-*',
      ]),
    );
  });

  it('refuses names the broker could not take', () => {
    expect(() =>
      planAcls([{ identity: 'Bad Name', status: 'active', sendTopics: [], receiveTopics: [] }]),
    ).toThrow(AclError);
    expect(() => planAcls(records, { ...DEFAULT_ACL_CONVENTIONS, metadataTopic: 'meta*' })).toThrow(
      AclError,
    );
  });
});

describe('diffAcls / applyAcls', () => {
  it("adds what is missing, removes only managed principals' extras, and is idempotent", async () => {
    const plan = planAcls(records);
    const operator: AclBinding = {
      resourceType: 'TOPIC',
      resourceName: 'x',
      patternType: 'LITERAL',
      principal: 'User:CN=operator',
      host: '*',
      operation: 'ALL',
      permission: 'ALLOW',
    };
    const stale: AclBinding = {
      ...operator,
      principal: 'User:CN=gone',
      operation: 'READ',
      resourceName: 'orders',
    };
    let cluster: AclBinding[] = [operator, stale, plan.bindings[0]!];
    const admin = {
      describeAcls: () => Promise.resolve([...cluster]),
      createAcls: (bs: readonly AclBinding[]) => {
        cluster.push(...bs);
        return Promise.resolve();
      },
      deleteAcls: (bs: readonly AclBinding[]) => {
        const drop = new Set(bs.map(formatBinding));
        cluster = cluster.filter((b) => !drop.has(formatBinding(b)));
        return Promise.resolve();
      },
    };
    const dry = await applyAcls(admin, plan, { dryRun: true });
    expect(dry.add).toHaveLength(plan.bindings.length - 1);
    expect(dry.remove).toEqual([stale]);
    expect(cluster).toHaveLength(3);
    const first = await applyAcls(admin, plan);
    expect(first.add.length + first.unchanged).toBe(plan.bindings.length);
    const second = await applyAcls(admin, plan);
    expect(second).toEqual({ add: [], remove: [], unchanged: plan.bindings.length });
    expect(cluster).toContainEqual(operator);
    expect(diffAcls(plan, cluster).add).toEqual([]);
  });
});
