/**
 * Both adapters hand the clients ACL bindings in Kafka's wire codes (src/kafka/acl-binding.ts): the
 * codes agree with each client's own enums, and describe results map back to the same bindings.
 */
import * as platformatic from '@platformatic/kafka';
import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import {
  ACL_WIRE_CODES,
  aclsFromWire,
  aclToWire,
  type AclBinding,
} from '../../../src/kafka/acl-binding.js';

const pick = (e: Record<string, unknown>, keys: readonly string[]) =>
  Object.fromEntries(keys.map((k) => [k, e[k]]));

describe('ACL wire codes', () => {
  it.each([
    [
      'kafkajs',
      kafkajs.AclResourceTypes,
      kafkajs.ResourcePatternTypes,
      kafkajs.AclPermissionTypes,
      kafkajs.AclOperationTypes,
    ],
    [
      '@platformatic/kafka',
      platformatic.ResourceTypes,
      platformatic.ResourcePatternTypes,
      platformatic.AclPermissionTypes,
      platformatic.AclOperations,
    ],
  ] as const)('are %s’s enum values', (_name, resource, pattern, permission, operation) => {
    const c = ACL_WIRE_CODES;
    expect(c.resourceType).toEqual(pick(resource, Object.keys(c.resourceType)));
    expect(c.patternType).toEqual(pick(pattern, Object.keys(c.patternType)));
    expect(c.permission).toEqual(pick(permission, Object.keys(c.permission)));
    expect(c.operation).toEqual(pick(operation, Object.keys(c.operation)));
  });

  it('a described binding maps back to the binding; kinds sealpost does not manage are left out', () => {
    const b: AclBinding = {
      resourceType: 'TOPIC',
      resourceName: 'orders',
      patternType: 'PREFIXED',
      principal: 'User:CN=orders',
      host: '*',
      operation: 'IDEMPOTENT_WRITE',
      permission: 'DENY',
    };
    const w = aclToWire(b);
    const resource = {
      resourceType: w.resourceType,
      resourceName: w.resourceName,
      resourcePatternType: w.resourcePatternType,
      acls: [
        w,
        { ...w, operation: 14 }, // DESCRIBE_TOKENS: not one of ours
      ],
    };
    expect(aclsFromWire([resource, { ...resource, resourceType: 7 }])).toEqual([b]);
  });
});
