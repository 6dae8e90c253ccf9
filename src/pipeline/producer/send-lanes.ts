/**
 * The order in which the deliveries of one topic may go out. A delivery split into several produce
 * requests sends them one after another; another send's records landing between two of them would put
 * newer seqs of the topic's stream before older ones, and a consumer refuses a record more than a
 * replay window (docs/SPEC.md §6) behind the newest it accepted as STALE. So a split delivery is
 * exclusive: it starts once every delivery of the topic entered before it is done, and the ones
 * entered after it wait until it is done. Deliveries in one request each run concurrently, as before.
 * Entering is synchronous, so the order is that of sealing when the caller enters right after sealing.
 */
export interface LaneTurn {
  /** Resolves when this delivery may start; undefined when it may start now. */
  readonly ready: Promise<unknown> | undefined;
  /** Call once the delivery is done (acknowledged or failed). */
  release(): void;
}

interface TopicLane {
  /** Deliveries entered and not yet released. */
  readonly active: Set<Promise<void>>;
  /** The last exclusive delivery entered, until it is released. */
  lastExclusive: Promise<void> | undefined;
}

export class SendLanes {
  readonly #lanes = new Map<string, TopicLane>();

  /** Enters a delivery to `topic`; `exclusive` when it is split into several produce requests. */
  enter(topic: string, exclusive: boolean): LaneTurn {
    let lane = this.#lanes.get(topic);
    if (lane === undefined) {
      lane = { active: new Set(), lastExclusive: undefined };
      this.#lanes.set(topic, lane);
    }
    const ready = exclusive
      ? lane.active.size === 0
        ? undefined
        : Promise.all(lane.active)
      : lane.lastExclusive;
    let resolve!: () => void;
    const done = new Promise<void>((r) => {
      resolve = r;
    });
    lane.active.add(done);
    if (exclusive) lane.lastExclusive = done;
    const owner = lane;
    let released = false;
    return {
      ready,
      release: () => {
        if (released) return;
        released = true;
        resolve();
        owner.active.delete(done);
        if (owner.lastExclusive === done) owner.lastExclusive = undefined;
        if (owner.active.size === 0 && this.#lanes.get(topic) === owner) this.#lanes.delete(topic);
      },
    };
  }
}
