import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { pinoLogCreator } from '../../../src/kafka/kafkajs-transport.js';
import { createLogger, REDACTED_FIELDS } from '../../../src/observability/logger.js';

/** A destination that keeps every JSON line pino writes. */
function capture(): { stream: Writable; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString('utf8'));
      done();
    },
  });
  return {
    stream,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('createLogger', () => {
  it('censors payloads, keys, tokens and credentials at the top level and one level down', () => {
    const out = capture();
    const logger = createLogger({ name: 'svc', destination: out.stream });
    logger.info(
      {
        topic: 'orders',
        partition: 3,
        payload: 'PLAINTEXT-1',
        value: Buffer.from('PLAINTEXT-2'),
        key: 'RECORD-KEY',
        token: 'TOKEN-1',
        record: { key: 'RECORD-KEY-2', headers: { h: 'HDR' }, plaintext: 'PLAINTEXT-3' },
        kms: { vaultToken: 'TOKEN-2', password: 'PW' },
      },
      'sealed',
    );
    const text = JSON.stringify(out.lines());
    for (const secret of [
      'PLAINTEXT',
      'RECORD-KEY',
      'TOKEN-',
      'HDR',
      '"PW"',
      Buffer.from('PLAINTEXT-2').toString('base64'),
    ]) {
      expect(text).not.toContain(secret);
    }
    const [line] = out.lines();
    expect(line).toMatchObject({
      name: 'svc',
      msg: 'sealed',
      topic: 'orders',
      partition: 3,
      payload: '[redacted]',
      record: { key: '[redacted]' },
    });
  });

  it('takes extra fields to censor and keeps the defaults', () => {
    const out = capture();
    createLogger({ destination: out.stream, redactFields: ['iban'] }).warn(
      { iban: 'DE00', seed: 'S', ok: 1 },
      'x',
    );
    expect(out.lines()[0]).toMatchObject({
      iban: '[redacted]',
      seed: '[redacted]',
      ok: 1,
      level: 40,
    });
    expect(REDACTED_FIELDS).toContain('privateKey');
  });

  it('respects the level', () => {
    const out = capture();
    const logger = createLogger({ destination: out.stream, level: 'warn' });
    logger.info('hidden');
    logger.error('shown');
    expect(out.lines().map((l) => l.msg)).toEqual(['shown']);
  });
});

describe('pinoLogCreator (kafkajs -> pino)', () => {
  it('maps kafkajs levels to pino levels and keeps the namespace and fields', () => {
    const out = capture();
    const log = pinoLogCreator(createLogger({ destination: out.stream, level: 'debug' }))(4);
    const entry = (level: number, message: string) => ({
      namespace: 'Connection',
      level,
      label: 'X',
      log: { timestamp: 't', message, broker: '127.0.0.1:9092', sasl: { password: 'PW' } },
    });
    log(entry(1, 'e'));
    log(entry(2, 'w'));
    log(entry(4, 'i'));
    log(entry(5, 'd'));
    const lines = out.lines();
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      [50, 'e'],
      [40, 'w'],
      [30, 'i'],
      [20, 'd'],
    ]);
    expect(lines[0]).toMatchObject({
      kafkajs: 'Connection',
      broker: '127.0.0.1:9092',
      sasl: '[redacted]',
    });
  });

  it('logs retriable broker conditions (which kafkajs retries) at debug, other errors as errors', () => {
    const out = capture();
    const log = pinoLogCreator(createLogger({ destination: out.stream, level: 'debug' }))(4);
    const response = (error: string) => ({
      namespace: 'Connection',
      level: 1,
      label: 'ERROR',
      log: { timestamp: 't', message: 'Response GroupCoordinator(key: 10, version: 2)', error },
    });
    log(response('The group coordinator is not available'));
    log(response("The coordinator is loading and hence can't process requests for this group"));
    log(response('Not authorized to access topics: [Topic authorization failed]'));
    expect(out.lines().map((l) => [l.level, l.retriable ?? false])).toEqual([
      [20, true],
      [20, true],
      [50, false],
    ]);
  });
});
