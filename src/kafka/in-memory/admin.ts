/**
 * The in-memory admin: topic management, committed offsets and log offsets of the in-memory cluster,
 * and ACL bindings kept as a list (stored and listed, never enforced).
 */
import type { AclBinding } from '../acl-binding.js';
import type {
  CommittedOffset,
  PartitionOffsets,
  TopicDescription,
  TopicSpec,
  TransportAdmin,
} from '../transport.js';
import { TransportError } from '../transport-error.js';
import type { InMemoryCluster } from './cluster.js';
import { describePartitions } from './producer.js';

/** See the module comment. */
export class InMemoryAdmin implements TransportAdmin {
  constructor(
    private readonly cluster: InMemoryCluster,
    private readonly killed: () => boolean,
  ) {}

  #call<T>(what: string, run: () => T): Promise<T> {
    if (this.killed())
      return Promise.reject(
        new TransportError('NOT_CONNECTED', `${what}: the client was killed (test fault)`),
      );
    return this.cluster.call(what, run);
  }

  async connect(): Promise<void> {
    await this.#call('admin connect', () => undefined);
  }

  createTopics(topics: readonly TopicSpec[]): Promise<boolean> {
    return this.#call('create topics', () => this.cluster.createTopics(topics));
  }

  deleteTopics(topics: readonly string[]): Promise<void> {
    return this.#call('delete topics', () => this.cluster.deleteTopics(topics));
  }

  listTopics(): Promise<string[]> {
    return this.#call('list topics', () => this.cluster.listTopics());
  }

  describeTopics(topics: readonly string[]): Promise<TopicDescription[]> {
    return this.#call('describe topics', () =>
      topics.map((topic) => ({ topic, partitions: describePartitions(this.cluster, topic) })),
    );
  }

  describeTopicConfig(topic: string): Promise<Record<string, string>> {
    return this.#call('describe topic config', () => this.cluster.topicConfig(topic));
  }

  fetchCommittedOffsets(groupId: string, topics: readonly string[]): Promise<CommittedOffset[]> {
    return this.#call('fetch committed offsets', () =>
      topics.flatMap((topic) =>
        Array.from({ length: this.cluster.partitionCount(topic) }, (_, partition) => {
          const c = this.cluster.committed(groupId, topic, partition);
          return {
            topic,
            partition,
            offset: c?.offset ?? '-1',
            metadata: c?.metadata ?? null,
          };
        }),
      ),
    );
  }

  fetchTopicOffsets(topic: string): Promise<PartitionOffsets[]> {
    return this.#call('fetch topic offsets', () =>
      Array.from({ length: this.cluster.partitionCount(topic) }, (_, partition) => ({
        partition,
        low: '0',
        high: this.cluster.highWatermark(topic, partition).toString(),
      })),
    );
  }

  deleteGroups(groupIds: readonly string[]): Promise<void> {
    return this.#call('delete groups', () => {
      for (const groupId of groupIds) this.cluster.deleteGroup(groupId);
    });
  }

  describeAcls(): Promise<AclBinding[]> {
    return this.#call('describe acls', () => this.cluster.describeAcls());
  }

  createAcls(bindings: readonly AclBinding[]): Promise<void> {
    return this.#call('create acls', () => this.cluster.createAcls(bindings));
  }

  deleteAcls(bindings: readonly AclBinding[]): Promise<void> {
    return this.#call('delete acls', () => this.cluster.deleteAcls(bindings));
  }

  async disconnect(): Promise<void> {
    await Promise.resolve();
  }
}
