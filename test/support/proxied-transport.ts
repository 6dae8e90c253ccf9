/**
 * A kafkajs Transport whose every connection (bootstrap and the broker's advertised address) goes
 * through a TcpProxy the test can cut, with kafkajs's own retrying kept short.
 */
import { connect } from 'node:net';
import { createKafkajsTransport } from '../../src/kafka/kafkajs-transport.js';
import type { Transport } from '../../src/kafka/transport.js';
import type { TcpProxy } from './tcp-proxy.js';
import { testLogger } from './test-transport.js';

export function proxiedTransport(proxy: TcpProxy, clientId: string): Transport {
  return createKafkajsTransport({
    brokers: [`127.0.0.1:${proxy.port}`],
    clientId,
    logger: testLogger,
    nowMs: () => Date.now(),
    connectionTimeoutMs: 1000,
    requestTimeoutMs: 3000,
    kafkaConfig: {
      socketFactory: ({ onConnect }) => {
        const socket = connect({ host: '127.0.0.1', port: proxy.port }, onConnect);
        socket.setKeepAlive(true, 60_000);
        return socket;
      },
      retry: { retries: 1, initialRetryTime: 50, maxRetryTime: 200 },
    },
    // The idempotent producer needs at least one retry; keep kafkajs's own retrying short.
    producerConfig: { retry: { retries: 1, initialRetryTime: 50, maxRetryTime: 200 } },
  });
}
