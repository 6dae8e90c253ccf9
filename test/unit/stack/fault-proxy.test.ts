/**
 * The fault proxy against a local echo server (our own TCP peer, no service behind it): each fault
 * changes what the client observes, and healing restores a plain pipe.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FaultProxy } from '../../support/fault-proxy.js';

let echo: Server;
let proxy: FaultProxy;

beforeAll(async () => {
  echo = createServer((s) => s.pipe(s));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
  proxy = new FaultProxy('127.0.0.1', (echo.address() as { port: number }).port);
  await proxy.start();
});

afterAll(async () => {
  await proxy.stop();
  await new Promise<void>((r) => echo.close(() => r()));
});

async function client(): Promise<{ socket: Socket; reads: Buffer[]; closed: Promise<string> }> {
  const socket = connect(proxy.port, '127.0.0.1');
  const reads: Buffer[] = [];
  socket.on('data', (d: Buffer) => reads.push(d));
  const closed = new Promise<string>((r) => {
    socket.once('error', (e: NodeJS.ErrnoException) => r(e.code ?? 'error'));
    socket.once('close', () => r('close'));
  });
  await new Promise<void>((r) => socket.once('connect', () => r()));
  return { socket, reads, closed };
}

async function until(check: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const total = (b: Buffer[]): number => b.reduce((n, x) => n + x.length, 0);

describe('FaultProxy', () => {
  it('forwards bytes unchanged when healed', async () => {
    proxy.heal();
    const c = await client();
    c.socket.write('hello');
    await until(() => total(c.reads) === 5);
    expect(Buffer.concat(c.reads).toString()).toBe('hello');
    c.socket.destroy();
  });

  it('delays each direction by the latency', async () => {
    proxy.set({ latencyMs: 150 });
    const c = await client();
    const began = Date.now();
    c.socket.write('x');
    await until(() => total(c.reads) === 1);
    expect(Date.now() - began).toBeGreaterThanOrEqual(290); // there and back
    c.socket.destroy();
    proxy.heal();
  });

  it('slices writes: the client reads the bytes in pieces, in order', async () => {
    proxy.set({ sliceBytes: 3 });
    const c = await client();
    const text = 'abcdefghijklmnopqrstuvwxyz';
    c.socket.write(text);
    await until(() => total(c.reads) === text.length);
    expect(Buffer.concat(c.reads).toString()).toBe(text);
    expect(c.reads.length).toBeGreaterThan(1);
    c.socket.destroy();
    proxy.heal();
  });

  it('caps the bandwidth', async () => {
    proxy.set({ bytesPerSecond: 20_000 });
    const c = await client();
    const began = Date.now();
    c.socket.write(Buffer.alloc(10_000, 1));
    await until(() => total(c.reads) === 10_000, 10_000);
    // 10 kB each way at 20 kB/s: at least ~0.5 s per direction once the first chunk is through.
    expect(Date.now() - began).toBeGreaterThanOrEqual(400);
    c.socket.destroy();
    proxy.heal();
  });

  it('blackholes bytes with the connection left open, then carries new bytes when healed', async () => {
    const c = await client();
    proxy.set({ blackhole: true });
    c.socket.write('lost');
    // A marker sent after healing arrives; the swallowed bytes never do.
    await new Promise((r) => setTimeout(r, 50));
    proxy.heal();
    c.socket.write('kept');
    await until(() => total(c.reads) === 4);
    expect(Buffer.concat(c.reads).toString()).toBe('kept');
    expect(c.socket.destroyed).toBe(false);
    c.socket.destroy();
  });

  it('resets open connections (the client sees ECONNRESET) and accepts new ones', async () => {
    const c = await client();
    await until(() => proxy.openSockets >= 2);
    expect(proxy.reset()).toBeGreaterThanOrEqual(2);
    expect(await c.closed).toBe('ECONNRESET');
    const d = await client();
    d.socket.write('again');
    await until(() => total(d.reads) === 5);
    d.socket.destroy();
  });
});
