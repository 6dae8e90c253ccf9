/**
 * The release-admission tests' common ground (docs/SPEC.md §11.3): a real signed directory where
 * `orders` sends on TOPIC to `billing` and `ops` may release on it, releases signed by an operator,
 * and an empty partition replay state.
 */
import { encodeRelease, type ReleaseFields } from '../../../src/envelope/release-envelope.js';
import type { KeyDirectory } from '../../../src/keys/directory/key-directory.js';
import type { LoadedIdentity } from '../../../src/keys/identity.js';
import type { PartitionReplayState } from '../../../src/pipeline/replay-state-store.js';
import { makePipelineWorld, type PipelineWorld } from '../../support/pipeline-world.js';

export const TOPIC = 'orders';
export const GROUP = 'billing-group';
export const HOUR = 3_600_000;

export interface ReleaseRig {
  readonly world: PipelineWorld;
  readonly directory: KeyDirectory;
  readonly ops: LoadedIdentity;
  readonly orders: LoadedIdentity;
  readonly billing: LoadedIdentity;
}

/** The world (orders and billing with X-Wing keys when `xwing`); the caller cleans it up. */
export async function releaseRig(options: { readonly xwing?: boolean } = {}): Promise<ReleaseRig> {
  const xwing = options.xwing === true ? { xwing: true } : {};
  const world = await makePipelineWorld([
    { name: 'orders', send: [TOPIC], receive: [], ...xwing },
    { name: 'billing', send: [], receive: [TOPIC], ...xwing },
    { name: 'ops', send: [], receive: [] },
  ]);
  await world.change([{ ...world.draft('ops'), releaseTopics: [TOPIC] }]);
  return {
    world,
    directory: await world.directory(),
    ops: await world.identity('ops'),
    orders: await world.identity('orders'),
    billing: await world.identity('billing'),
  };
}

/**
 * A release of `inner` to billing's group on TOPIC partition 0 (entry 1), issued at `nowMs` for an
 * hour, signed by `by` (default ops); `over` replaces any field.
 */
export function signedRelease(
  rig: ReleaseRig,
  inner: Uint8Array,
  nowMs: number,
  over: Partial<ReleaseFields> = {},
  by: LoadedIdentity = rig.ops,
): Uint8Array {
  return encodeRelease(
    {
      operatorKid: by.signingKey().kid,
      namespace: rig.directory.namespace,
      issuedAtMs: nowMs,
      expiresAtMs: nowMs + HOUR,
      topic: TOPIC,
      partition: 0,
      group: GROUP,
      entryId: 1,
      inner,
      ...over,
    },
    (tbs) => rig.world.crypto.signDetached(tbs, by.signingKey().secretKey),
  );
}

/** A partition's replay state before anything was read. */
export const emptyReplayState = (): PartitionReplayState => ({
  generation: 0,
  nextOffset: null,
  windows: new Map(),
  entityVersions: new Map(),
  handOutMark: null,
});
