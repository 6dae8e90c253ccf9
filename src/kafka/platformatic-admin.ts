/** The admin client of the @platformatic/kafka adapter (topics, offsets, groups, ACLs). */
import {
  AclOperations,
  AclPermissionTypes,
  Admin,
  ConfigResourceTypes,
  ListOffsetTimestamps,
  ResourcePatternTypes,
  ResourceTypes,
  type Acl,
} from '@platformatic/kafka';
import { aclsFromWire, aclToWire, type AclBinding } from './acl-binding.js';
import { mapped, protocolErrorName, toTransportError } from './platformatic-errors.js';
import type { PlatformaticClientOptions } from './platformatic-options.js';
import { partitionsOf } from './platformatic-producer.js';
import type {
  CommittedOffset,
  PartitionOffsets,
  TopicDescription,
  TopicSpec,
  TransportAdmin,
} from './transport.js';

/** How long createTopics waits for the new partitions' leaders, in ms (kafkajs waits likewise). */
const LEADER_WAIT_MS = 30_000;

export class PlatformaticAdmin implements TransportAdmin {
  readonly #admin: Admin;

  constructor(client: PlatformaticClientOptions) {
    this.#admin = new Admin({ ...client.base, retries: client.retries, ...client.adminConfig });
  }

  async connect(): Promise<void> {
    await mapped('admin connect', () => this.#admin.metadata({ topics: [] }));
  }

  async createTopics(topics: readonly TopicSpec[]): Promise<boolean> {
    // The client sends one config list for all topics of a call: one call per topic.
    const created = await Promise.all(
      topics.map(async (t) => {
        const configs: Record<string, string> = {
          ...(t.compacted === true ? { 'cleanup.policy': 'compact' } : {}),
          ...t.configs,
        };
        try {
          await this.#admin.createTopics({
            topics: [t.topic],
            partitions: t.numPartitions ?? 1,
            replicas: t.replicationFactor ?? -1,
            configs: Object.entries(configs).map(([name, value]) => ({ name, value })),
          });
          return true;
        } catch (err) {
          if (protocolErrorName(err) === 'TOPIC_ALREADY_EXISTS') return false;
          throw toTransportError(err, 'create topics');
        }
      }),
    );
    await this.#waitForLeaders(topics.map((t) => t.topic));
    return created.every(Boolean);
  }

  async #waitForLeaders(topics: readonly string[]): Promise<void> {
    const deadline = performance.now() + LEADER_WAIT_MS;
    for (;;) {
      try {
        const described = await this.describeTopics(topics);
        if (described.every((t) => t.partitions.every((p) => p.leader >= 0))) return;
      } catch (err) {
        if (performance.now() > deadline) throw err;
      }
      if (performance.now() > deadline) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async deleteTopics(topics: readonly string[]): Promise<void> {
    await mapped('delete topics', () => this.#admin.deleteTopics({ topics: [...topics] }));
  }

  async listTopics(): Promise<string[]> {
    return mapped('list topics', () => this.#admin.listTopics());
  }

  async describeTopics(topics: readonly string[]): Promise<TopicDescription[]> {
    const metadata = await mapped('describe topics', () =>
      this.#admin.metadata({ topics: [...topics], forceUpdate: true, autocreateTopics: false }),
    );
    return topics.map((topic) => ({ topic, partitions: partitionsOf(metadata, topic) }));
  }

  async describeTopicConfig(topic: string): Promise<Record<string, string>> {
    const described = await mapped('describe topic config', () =>
      this.#admin.describeConfigs({
        resources: [{ resourceType: ConfigResourceTypes.TOPIC, resourceName: topic }],
        includeSynonyms: false,
      }),
    );
    const out: Record<string, string> = {};
    for (const resource of described) {
      for (const entry of resource.configs)
        if (typeof entry.value === 'string') out[entry.name] = entry.value;
    }
    return out;
  }

  async fetchCommittedOffsets(
    groupId: string,
    topics: readonly string[],
  ): Promise<CommittedOffset[]> {
    const described = await this.describeTopics(topics);
    const groups = await mapped('fetch committed offsets', () =>
      this.#admin.listConsumerGroupOffsets({
        groups: [
          {
            groupId,
            topics: described.map((t) => ({
              name: t.topic,
              partitionIndexes: t.partitions.map((p) => p.partition),
            })),
          },
        ],
      }),
    );
    const stored = new Map<string, { offset: bigint; metadata: string | null }>();
    for (const g of groups) {
      for (const t of g.topics) {
        for (const p of t.partitions) {
          stored.set(`${t.name}\u0000${p.partitionIndex}`, {
            offset: p.committedOffset,
            metadata: p.metadata ?? null,
          });
        }
      }
    }
    return described.flatMap((t) =>
      t.partitions.map((p) => {
        const s = stored.get(`${t.topic}\u0000${p.partition}`);
        const offset = s === undefined || s.offset < 0n ? '-1' : s.offset.toString();
        return { topic: t.topic, partition: p.partition, offset, metadata: s?.metadata ?? null };
      }),
    );
  }

  async fetchTopicOffsets(topic: string): Promise<PartitionOffsets[]> {
    const [described] = await this.describeTopics([topic]);
    const partitions = described?.partitions ?? [];
    const at = async (timestamp: bigint) => {
      const listed = await mapped('fetch topic offsets', () =>
        this.#admin.listOffsets({
          topics: [
            {
              name: topic,
              partitions: partitions.map((p) => ({ partitionIndex: p.partition, timestamp })),
            },
          ],
        }),
      );
      const out = new Map<number, bigint>();
      for (const t of listed) for (const p of t.partitions) out.set(p.partitionIndex, p.offset);
      return out;
    };
    const [low, high] = await Promise.all([
      at(ListOffsetTimestamps.EARLIEST),
      at(ListOffsetTimestamps.LATEST),
    ]);
    return partitions.map((p) => ({
      partition: p.partition,
      low: (low.get(p.partition) ?? 0n).toString(),
      high: (high.get(p.partition) ?? 0n).toString(),
    }));
  }

  async deleteGroups(groupIds: readonly string[]): Promise<void> {
    await mapped('delete groups', () => this.#admin.deleteGroups({ groups: [...groupIds] }));
  }

  async describeAcls(): Promise<AclBinding[]> {
    const resources = await mapped('describe acls', () =>
      this.#admin.describeAcls({
        filter: {
          resourceType: ResourceTypes.ANY,
          resourceName: null,
          resourcePatternType: ResourcePatternTypes.ANY,
          principal: null,
          host: null,
          operation: AclOperations.ANY,
          permissionType: AclPermissionTypes.ANY,
        },
      }),
    );
    return aclsFromWire(resources);
  }

  async createAcls(bindings: readonly AclBinding[]): Promise<void> {
    if (bindings.length === 0) return;
    await mapped('create acls', () =>
      this.#admin.createAcls({ creations: bindings.map(toPlatformaticAcl) }),
    );
  }

  async deleteAcls(bindings: readonly AclBinding[]): Promise<void> {
    if (bindings.length === 0) return;
    await mapped('delete acls', () =>
      this.#admin.deleteAcls({ filters: bindings.map(toPlatformaticAcl) }),
    );
  }

  async disconnect(): Promise<void> {
    await mapped('admin disconnect', () => this.#admin.close());
  }
}

/** @platformatic/kafka's enums are Kafka's wire codes. */
function toPlatformaticAcl(b: AclBinding): Acl {
  return aclToWire(b) as Acl;
}
