/**
 * The KRaft metadata quorum's leader (the active controller) of the stack's cluster, read the way
 * `kafka-metadata-quorum describe --status` reads it: the Admin API's describeMetadataQuorum, run
 * through the stack's Kafka jars (test/chaos/QuorumLeader.java; kafkajs has no DescribeQuorum). A
 * broker's metadata answer names a random broker as "controller" under KRaft, so it cannot be used.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { liveBrokers } from '../../stack/faults.js';
import { stackPaths } from '../../stack/paths.js';
import { kafkaNodes } from '../../stack/stack.js';
import { host } from '../../stack/versions.js';

/** The node id of the quorum's leader now (asked of the live nodes' controller listeners). */
export function quorumLeader(): number {
  const live = new Set(liveBrokers());
  const controllers = kafkaNodes()
    .filter((n) => live.has(n.id))
    .map((n) => `${host}:${n.layout.controllerPort}`)
    .join(',');
  const r = spawnSync(
    'java',
    ['-cp', `${stackPaths.kafkaLibs}/*`, join('test', 'chaos', 'QuorumLeader.java'), controllers],
    { encoding: 'utf8', timeout: 60_000 },
  );
  const id = Number(r.stdout.trim().split('\n').pop());
  if (r.status !== 0 || !Number.isInteger(id) || id < 0) {
    throw new Error(
      `describing the metadata quorum failed (exit ${r.status}): ${r.stderr.slice(-300)}`,
    );
  }
  return id;
}
