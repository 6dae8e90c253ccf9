/**
 * A kafkajs Transport whose every connection (bootstrap and the advertised broker address) goes
 * through a TcpProxy in front of the stack's broker: stopping the proxy is a broker outage for this
 * client only — the shared broker keeps running for everyone else. Short kafkajs retries, so an
 * outage shows within seconds.
 */
import { connect } from 'node:net';
import { createKafkajsTransport } from '../../src/kafka/kafkajs-transport.js';
import type { Transport } from '../../src/kafka/transport.js';
import { getEndpoints } from './endpoints.js';
import { TcpProxy } from './tcp-proxy.js';
import { testLogger } from './test-transport.js';

export async function proxiedKafka(
  clientId: string,
): Promise<{ proxy: TcpProxy; transport: Transport }> {
  const [host, port] = getEndpoints().kafkaBrokers[0]!.split(':') as [string, string];
  const proxy = new TcpProxy(host, Number(port));
  await proxy.start();
  const transport = createKafkajsTransport({
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
    producerConfig: { retry: { retries: 1, initialRetryTime: 50, maxRetryTime: 200 } },
  });
  return { proxy, transport };
}
