/**
 * The Avro schema of every benchmark's record (an order: two short ids, two longs and a ≈ 1 KB note):
 * one definition for bench/envelope.ts, bench/e2e-clients.ts, bench/soak.ts, bench/profile-consumer.ts
 * and bench/worker-open-setup.ts, so their figures are for the same record.
 */
export const ORDER_SCHEMA = JSON.stringify({
  type: 'record',
  name: 'Order',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'customer', type: 'string' },
    { name: 'amountCents', type: 'long' },
    { name: 'createdAt', type: 'long' },
    { name: 'note', type: 'string' },
  ],
});
