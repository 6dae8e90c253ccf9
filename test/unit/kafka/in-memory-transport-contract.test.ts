/** The Transport contract (test/contract/transport-contract.ts) on the in-memory transport. */
import { createInMemoryTransport } from '../../../src/testing.js';
import { transportContract } from '../../contract/transport-contract.js';

transportContract('in-memory', () => {
  // One cluster, a client per call (as separate processes would have).
  const first = createInMemoryTransport({ clientId: 'contract' });
  return Promise.resolve({
    client: () => createInMemoryTransport({ cluster: first.cluster, clientId: 'contract' }),
    waitMs: 5_000,
    consumerOptions: { retryInitialDelayMs: 20 },
  });
});
