/**
 * The payload-stage part of the consumer's rejection route (src/pipeline/consumer/rejection-route.ts)
 * alone: only the record's faults are dead-lettered; a registry that is down or refusing is retried.
 */
import { describe, expect, it } from 'vitest';
import { routePayloadError } from '../../../src/pipeline/consumer/rejection-route.js';
import { AvroDecodeError, AvroSchemaError } from '../../../src/registry/avro-errors.js';
import { RegistryError } from '../../../src/registry/registry-error.js';

describe('routePayloadError', () => {
  it('maps each payload-stage failure to dead-letter, retry or unexpected', () => {
    expect(routePayloadError(new RegistryError('SCHEMA_NOT_FOUND', 'id 7'))).toEqual({
      action: 'dead-letter',
      coarse: 'SCHEMA',
      detail: 'SCHEMA_MISMATCH',
    });
    expect(routePayloadError(new AvroSchemaError('SCHEMA_UNSUPPORTED', 'x'))).toEqual({
      action: 'dead-letter',
      coarse: 'SCHEMA',
      detail: 'SCHEMA_MISMATCH',
    });
    expect(routePayloadError(new AvroDecodeError('PAYLOAD_LIMIT_EXCEEDED', 'x'))).toEqual({
      action: 'dead-letter',
      coarse: 'PAYLOAD',
      detail: 'PAYLOAD_INVALID',
    });
    expect(routePayloadError(new RegistryError('REGISTRY_UNAVAILABLE', 'down'))).toEqual({
      action: 'retry',
      reason: 'registry-unavailable',
      refusing: false,
    });
    expect(routePayloadError(new RegistryError('REGISTRY_UNAUTHORIZED', '401'))).toEqual({
      action: 'retry',
      reason: 'registry-error',
      refusing: true,
    });
    expect(routePayloadError(new TypeError('a bug'))).toEqual({ action: 'unexpected' });
  });
});
