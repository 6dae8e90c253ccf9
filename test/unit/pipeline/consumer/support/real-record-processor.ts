/**
 * A RecordProcessor built from real parts for the processor's unit tests: the envelope opener with
 * the receiver's keys (OpeningKeys), the dead-letter writer on the given transport, the rejection
 * route, directory freshness and admission control. The partition state and the handler are the
 * test's own collaborators.
 */
import { EnvelopeOpener } from '../../../../../src/envelope/envelope-opener.js';
import type { Transport } from '../../../../../src/kafka/transport.js';
import { DirectorySenderResolver } from '../../../../../src/keys/directory/directory-sender-resolver.js';
import type { KeyDirectory } from '../../../../../src/keys/directory/key-directory.js';
import type { LoadedIdentity } from '../../../../../src/keys/identity.js';
import { AdmissionControl } from '../../../../../src/pipeline/admission-control.js';
import { resolveConsumerSettings } from '../../../../../src/pipeline/consumer/consumer-settings.js';
import type {
  SealedConsumerOptions,
  SealedMessageHandler,
} from '../../../../../src/pipeline/consumer/consumer-types.js';
import { DirectoryFreshness } from '../../../../../src/pipeline/consumer/directory-freshness.js';
import { OpeningKeys } from '../../../../../src/pipeline/consumer/opening-keys.js';
import {
  RecordProcessor,
  type RecordProcessorOptions,
} from '../../../../../src/pipeline/consumer/record-processor.js';
import { RejectionRoute } from '../../../../../src/pipeline/consumer/rejection-route.js';
import { DeadLetterBreaker } from '../../../../../src/pipeline/dead-letter-breaker.js';
import { DeadLetterWriter } from '../../../../../src/pipeline/dead-letter-writer.js';
import {
  DEFAULT_ENVELOPE_SUBJECT,
  registerEnvelopeSchema,
} from '../../../../../src/pipeline/envelope-schema.js';
import { silentLogger } from '../../../../../src/pipeline/pipeline-logger.js';
import type { PipelineMetrics } from '../../../../../src/pipeline/pipeline-metrics.js';
import type { SchemaRegistryClient } from '../../../../../src/registry/schema-registry-client.js';
import { systemClock } from '../../../../../src/runtime/clock.js';
import type { PipelineWorld } from '../../../../support/pipeline-world.js';

export interface RealRecordProcessorOptions {
  readonly world: PipelineWorld;
  readonly directory: KeyDirectory;
  readonly receiver: LoadedIdentity;
  readonly transport: Transport;
  readonly registry: SchemaRegistryClient;
  readonly groupId: string;
  readonly deadLetterTopic: string;
  /** Consumer options beyond the group id (e.g. readerSchemas, entityVersionTopics). */
  readonly consumerOptions?: Partial<SealedConsumerOptions>;
  readonly partitions: RecordProcessorOptions['partitions'];
  readonly handler: SealedMessageHandler;
  /** The processor's metrics (default: none). */
  readonly metrics?: PipelineMetrics;
}

export async function realRecordProcessor(o: RealRecordProcessorOptions): Promise<RecordProcessor> {
  const settings = resolveConsumerSettings({
    groupId: o.groupId,
    ...o.consumerOptions,
  } as unknown as SealedConsumerOptions);
  const envelopeSchemaId = await registerEnvelopeSchema(o.registry, DEFAULT_ENVELOPE_SUBJECT);
  const keys = new OpeningKeys({
    identity: o.receiver,
    directory: o.directory,
    clock: systemClock,
    logger: silentLogger,
    apply: (k) => opener.setRecipientKeys(k),
  });
  const opener = new EnvelopeOpener({
    provider: o.world.crypto,
    clock: systemClock,
    resolver: new DirectorySenderResolver(o.directory),
    policy: settings.policy,
    limits: {
      envelopeSchemaId,
      namespace: o.directory.namespace,
      maxCiphertextBytes: settings.maxCiphertextBytes,
    },
    recipientKeys: keys.current(),
  });
  const dlqProducer = o.transport.producer();
  await dlqProducer.connect();
  const writer = new DeadLetterWriter({
    producer: dlqProducer,
    topic: o.deadLetterTopic,
    crypto: o.world.crypto,
    clock: systemClock,
    identity: o.receiver,
    directory: o.directory,
    group: o.groupId,
    detailRecipients: ['billing'],
  });
  return new RecordProcessor({
    opener,
    partitions: o.partitions,
    route: new RejectionRoute({
      breaker: new DeadLetterBreaker(systemClock),
      writer: () => writer,
      groupId: o.groupId,
      logger: silentLogger,
    }),
    keys,
    freshness: new DirectoryFreshness(o.directory, systemClock, silentLogger),
    admission: new AdmissionControl(systemClock),
    directory: o.directory,
    identity: o.receiver.name,
    registry: o.registry,
    crypto: o.world.crypto,
    clock: systemClock,
    handler: o.handler,
    settings,
    groupId: o.groupId,
    ...(o.metrics === undefined ? {} : { metrics: o.metrics }),
  });
}
