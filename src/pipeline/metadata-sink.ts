import type { MetadataEvent } from '../events/metadata-event.js';

/** An event as the pipeline reports it; the sink adds eventId, timeMs and actor. */
export type PipelineEvent = Omit<MetadataEvent, 'eventId' | 'timeMs' | 'actor'>;

/** Where the producer and consumer report metadata events (MetadataEventEmitter is the real one). */
export interface MetadataSink {
  /** Queues an event; never throws, never blocks on I/O. */
  emit(event: PipelineEvent): void;
}
