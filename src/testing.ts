/**
 * `sealpost/testing`: what users need to test their own code against sealpost without a broker — an
 * in-memory Transport with faults on demand (see src/kafka/in-memory-transport.ts), the schedulers
 * that decide its time and `settle` to let its clients run until nothing moves. Named exports only.
 */
export {
  createInMemoryTransport,
  InMemoryTransport,
  type InMemoryTransportOptions,
} from './kafka/in-memory-transport.js';
export {
  InMemoryCluster,
  type CommitLogEntry,
  type InMemoryClusterOptions,
} from './kafka/in-memory/cluster.js';
export { settle, type SettleOptions } from './kafka/in-memory/settle.js';
export {
  ManualScheduler,
  realTimeScheduler,
  type ScheduledCall,
  type Scheduler,
} from './kafka/in-memory/scheduler.js';
