import { describe, expect, it } from 'vitest';
import {
  kafkaServiceName,
  newClusterId,
  serverProperties,
  stackKafkaNode,
} from '../../../stack/kafka.js';
import { parseServiceName } from '../../../stack/stack.js';
import { kafkaNodePorts, parseBrokerCount } from '../../../stack/versions.js';

function props(text: string): Map<string, string> {
  return new Map(
    text
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('#'))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as [string, string]),
  );
}

describe('stack Kafka cluster configuration', () => {
  it('gives node n the contract ports plus 100·(n−1)', () => {
    const one = kafkaNodePorts(1);
    const three = kafkaNodePorts(3);
    expect(three.plaintext - one.plaintext).toBe(200);
    expect(three.ssl - one.ssl).toBe(200);
    expect(new Set(Object.values(one)).size).toBe(5);
    expect(() => kafkaNodePorts(0)).toThrow(/node id/);
    expect(() => kafkaNodePorts(6)).toThrow(/node id/);
  });

  it('a 3-node cluster: every node a voter, replication 3 with min.insync.replicas 2 everywhere', () => {
    const p = props(serverProperties(stackKafkaNode(2, 3).layout));
    expect(p.get('node.id')).toBe('2');
    expect(p.get('process.roles')).toBe('broker,controller');
    expect(p.get('controller.quorum.voters')!.split(',')).toHaveLength(3);
    for (const key of [
      'default.replication.factor',
      'offsets.topic.replication.factor',
      'transaction.state.log.replication.factor',
      'share.coordinator.state.topic.replication.factor',
    ])
      expect(p.get(key), key).toBe('3');
    for (const key of [
      'min.insync.replicas',
      'transaction.state.log.min.isr',
      'share.coordinator.state.topic.min.isr',
    ])
      expect(p.get(key), key).toBe('2');
    expect(p.get('unclean.leader.election.enable')).toBe('false');
    // PLAINTEXT and mTLS on every node, plus the FAULT listener advertised where a proxy listens.
    const ports = kafkaNodePorts(2);
    expect(p.get('listeners')).toContain(`SSL://127.0.0.1:${ports.ssl}`);
    expect(p.get('listeners')).toContain(`FAULT://127.0.0.1:${ports.faultInternal}`);
    expect(p.get('advertised.listeners')).toContain(`FAULT://127.0.0.1:${ports.faultAdvertised}`);
    expect(p.get('listener.name.ssl.ssl.client.auth')).toBe('required');
    expect(p.get('log.dirs')).toMatch(/kafka-2$/);
  });

  it('a single broker keeps replication 1 and its historical names', () => {
    const p = props(serverProperties(stackKafkaNode(1, 1).layout));
    expect(p.get('default.replication.factor')).toBe('1');
    expect(p.get('min.insync.replicas')).toBe('1');
    expect(p.get('controller.quorum.voters')!.split(',')).toHaveLength(1);
    expect(kafkaServiceName(1)).toBe('kafka');
    expect(kafkaServiceName(3)).toBe('kafka-3');
  });

  it('never draws a cluster id kafka-storage would take for an option', () => {
    for (let i = 0; i < 2000; i++) {
      const id = newClusterId();
      expect(id.startsWith('-'), id).toBe(false);
      expect(Buffer.from(id, 'base64url')).toHaveLength(16);
    }
  });

  it('parses broker counts and service names, refusing what makes no sense', () => {
    expect(parseBrokerCount('3', '--brokers')).toBe(3);
    expect(parseBrokerCount('1', '--brokers')).toBe(1);
    for (const bad of ['2', '0', '6', 'x', '1.5'])
      expect(() => parseBrokerCount(bad, '--brokers'), bad).toThrow(/--brokers must be/);
    expect(parseServiceName('kafka-1')).toBe('kafka');
    expect(parseServiceName('kafka-2')).toBe('kafka-2');
    expect(parseServiceName('openbao')).toBe('openbao');
    expect(() => parseServiceName('kafka-9')).toThrow(/unknown service/);
    expect(() => parseServiceName('zookeeper')).toThrow(/unknown service/);
  });
});
