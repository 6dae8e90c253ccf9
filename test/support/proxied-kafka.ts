/**
 * A TcpProxy in front of the stack's broker and a Transport whose every connection goes through it
 * (proxied-transport.ts): stopping the proxy is a broker outage for this client only — the shared
 * broker keeps running for everyone else. Short kafkajs retries, so an outage shows within seconds.
 */
import type { Transport } from '../../src/kafka/transport.js';
import { getEndpoints } from './endpoints.js';
import { proxiedTransport } from './proxied-transport.js';
import { TcpProxy } from './tcp-proxy.js';

export async function proxiedKafka(
  clientId: string,
): Promise<{ proxy: TcpProxy; transport: Transport }> {
  const [host, port] = getEndpoints().kafkaBrokers[0]!.split(':') as [string, string];
  const proxy = new TcpProxy(host, Number(port));
  await proxy.start();
  return { proxy, transport: proxiedTransport(proxy, clientId) };
}
