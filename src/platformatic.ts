/**
 * `sealpost/platformatic`: the Transport adapter on @platformatic/kafka (docs/TRANSPORTS.md), an
 * optional peer dependency — install it next to sealpost (Node >= 22.22 or >= 24.6). The package's
 * main entry never imports this module, so users without the client are not affected. Pass the
 * transport to the pipeline classes, or choose it in createSealpost with `kafkaClient: 'platformatic'`.
 */
export {
  createPlatformaticTransport,
  type PlatformaticTransportOptions,
} from './kafka/platformatic-transport.js';
