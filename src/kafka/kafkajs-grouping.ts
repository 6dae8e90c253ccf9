/**
 * A linear grouping of a send's messages by partition for kafkajs' producer (docs/PERFORMANCE.md
 * "Where the time goes"). kafkajs 2.2.4 groups them by copying the partition's whole array for every
 * message (quadratic in the send: about 1–2 µs per record at 500 records per send, on plain and
 * sealed sends alike), with no option to replace it.
 *
 * This module puts a function with the same result — per partition the messages in send order, in
 * an object keyed by partition — into Node's module cache under kafkajs' own module path
 * (kafkajs-module-cache.ts), so that kafkajs' producer picks it up when kafkajs loads. Before
 * installing, it checks the replacement against kafkajs' own on fixed inputs. kafkajs keeps its own
 * when the application had kafkajs load it earlier, when kafkajs' module is not where expected, or
 * when the check fails.
 */
import {
  alreadyLoaded,
  kafkajsModulePath,
  kafkajsRequire,
  preloadModule,
} from './kafkajs-module-cache.js';

/** Which grouping kafkajs' producer uses, and why. */
export type KafkajsGrouping =
  | { readonly kind: 'linear' }
  | {
      readonly kind: 'kafkajs';
      readonly reason: 'module not found' | 'kafkajs grouping already loaded' | 'check failed';
    };

interface GroupArgs {
  readonly topic: string;
  readonly partitionMetadata: readonly unknown[];
  readonly messages: readonly unknown[];
  readonly partitioner: (args: {
    topic: string;
    partitionMetadata: readonly unknown[];
    message: unknown;
  }) => number;
}
type Grouping = (args: GroupArgs) => Record<number, unknown[]>;

const GROUPING_MODULE = 'kafkajs/src/producer/groupMessagesPerPartition.js';

/** kafkajs' result, built with one push per message. */
export const groupMessagesPerPartition: Grouping = ({
  topic,
  partitionMetadata,
  messages,
  partitioner,
}) => {
  const out: Record<number, unknown[]> = {};
  if (partitionMetadata.length === 0) return out;
  for (const message of messages) {
    const partition = partitioner({ topic, partitionMetadata, message });
    const list = out[partition];
    if (list === undefined) out[partition] = [message];
    else list.push(message);
  }
  return out;
};

/** The same partitions, the same messages (by identity) in the same order. */
function sameGrouping(a: Record<number, unknown[]>, b: Record<number, unknown[]>): boolean {
  const keys = Object.keys(a);
  if (keys.join() !== Object.keys(b).join()) return false;
  return keys.every((k) => {
    const x = a[Number(k)]!;
    const y = b[Number(k)]!;
    return x.length === y.length && x.every((m, i) => m === y[i]);
  });
}

/** Fixed cases: no partitions, one partition, messages spread over three out of order. */
function checkCases(): GroupArgs[] {
  const messages = Array.from({ length: 12 }, (_, i) => ({ i, partition: (i * 7) % 3 }));
  const partitioner: GroupArgs['partitioner'] = ({ message }) =>
    (message as { partition: number }).partition;
  const three = [{ partitionId: 0 }, { partitionId: 1 }, { partitionId: 2 }];
  return [
    { topic: 't', partitionMetadata: [], messages, partitioner },
    { topic: 't', partitionMetadata: [three[0]], messages: [], partitioner },
    { topic: 't', partitionMetadata: three, messages, partitioner },
  ];
}

function install(): KafkajsGrouping {
  const path = kafkajsModulePath(GROUPING_MODULE);
  if (path === undefined) return { kind: 'kafkajs', reason: 'module not found' };
  if (alreadyLoaded(path)) return { kind: 'kafkajs', reason: 'kafkajs grouping already loaded' };
  // Loading kafkajs' own for the check caches it; preloadModule below replaces the cache entry
  // before kafkajs' producer requires it.
  const own = kafkajsRequire(path) as Grouping;
  for (const c of checkCases())
    if (!sameGrouping(own(c), groupMessagesPerPartition(c)))
      return { kind: 'kafkajs', reason: 'check failed' };
  preloadModule(path, groupMessagesPerPartition);
  return { kind: 'linear' };
}

/** Resolved once, when this module is first evaluated (before kafkajs loads). */
export const kafkajsGrouping: KafkajsGrouping = install();
