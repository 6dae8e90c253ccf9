/**
 * The console over HTTPS with client certificates (docs/CONSOLE.md): only a client whose certificate
 * the configured CA signed completes the handshake; its subject CN names the caller in the callers
 * file (unknown CN: 401); a viewer's certificate reads but may not release; a certificate is sent by
 * the browser on its own, so its POSTs need the CSRF token of a console page. The certificates are
 * made here by openssl, from a throwaway CA (in a deployment: the stack's CA, stack/certs.ts).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startConsoleRig, type ConsoleRig } from './console-rig.js';

const dir = mkdtempSync(join(tmpdir(), 'sealpost-console-mtls-'));
const pem = (name: string): string => readFileSync(join(dir, name), 'utf8');

function openssl(...args: string[]): void {
  const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args[0]}: ${r.stderr}`);
}

/** `openssl req` arguments for a new unencrypted P-256 key in `key`, its request (or certificate) in `out`, subject CN `cn`. */
const newP256 = (key: string, out: string, cn: string): string[] => [
  '-newkey',
  'ec',
  '-pkeyopt',
  'ec_paramgen_curve:P-256',
  '-nodes',
  '-keyout',
  key,
  '-out',
  out,
  '-subj',
  `/CN=${cn}`,
];

/** A CA, and certificates it signs: `name.crt` / `name.key`. */
function makeCa(ca: string): void {
  openssl('req', '-x509', ...newP256(`${ca}.key`, `${ca}.crt`, ca), '-days', '2');
}
function issue(ca: string, name: string, cn: string, ext: string): void {
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl('req', ...newP256(`${name}.key`, `${name}.csr`, cn));
  openssl(
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${ca}.crt`,
    '-CAkey',
    `${ca}.key`,
    '-set_serial',
    String(Date.now() % 1e9),
    '-out',
    `${name}.crt`,
    '-days',
    '2',
    '-extfile',
    `${name}.ext`,
  );
}

let rig: ConsoleRig;
const client = (name: string): { ca: string; cert: string; key: string } => ({
  ca: pem('ca.crt'),
  cert: pem(`${name}.crt`),
  key: pem(`${name}.key`),
});

beforeAll(async () => {
  makeCa('ca');
  makeCa('other-ca');
  issue('ca', 'server', 'console', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  const clientExt = 'extendedKeyUsage=clientAuth\n';
  issue('ca', 'alice', 'alice', clientExt);
  issue('ca', 'vic', 'vic', clientExt);
  issue('ca', 'mallory', 'mallory', clientExt);
  issue('other-ca', 'forged-alice', 'alice', clientExt);
  rig = await startConsoleRig(10, {
    credentials: [
      { name: 'alice', role: 'operator', clientCertificateCn: 'alice' },
      { name: 'vic', role: 'viewer', clientCertificateCn: 'vic' },
    ],
    tls: { cert: pem('server.crt'), key: pem('server.key'), clientCa: pem('ca.crt') },
  });
}, 60_000);
afterAll(async () => {
  await rig.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('client certificates', () => {
  it('refuses the handshake without a certificate, or with one from another CA', async () => {
    await expect(
      call(rig.url, 'GET', '/quarantine', { tls: { ca: pem('ca.crt') } }),
    ).rejects.toThrow();
    await expect(
      call(rig.url, 'GET', '/quarantine', { tls: client('forged-alice') }),
    ).rejects.toThrow();
  });

  it('a certificate the CA signed for a CN the file does not name: 401', async () => {
    expect((await call(rig.url, 'GET', '/quarantine', { tls: client('mallory') })).status).toBe(
      401,
    );
  });

  it("names the caller by its CN; a viewer's certificate reads but may not purge", async () => {
    const page = await call(rig.url, 'GET', '/quarantine', { tls: client('vic') });
    expect(page.status).toBe(200);
    expect(page.body).toContain('vic (viewer)');
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)![1]!;
    const r = await call(rig.url, 'POST', '/quarantine/1/purge', {
      tls: client('vic'),
      form: { confirm: 'yes', csrf },
    });
    expect(r.status).toBe(403);
    expect(await rig.store.get(1)).toBeDefined();
  });

  it("an operator's certificate: POST refused without the page's CSRF token, done with it", async () => {
    const bare = await call(rig.url, 'POST', '/quarantine/2/purge', {
      tls: client('alice'),
      form: { confirm: 'yes' },
    });
    expect(bare.status).toBe(403);
    expect(await rig.store.get(2)).toBeDefined();
    const page = await call(rig.url, 'GET', '/quarantine/2/purge', { tls: client('alice') });
    expect(page.body).toContain('alice (operator)');
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)![1]!;
    const done = await call(rig.url, 'POST', '/quarantine/2/purge', {
      tls: client('alice'),
      form: { confirm: 'yes', csrf },
    });
    expect(done.status).toBe(200);
    expect(await rig.store.get(2)).toBeUndefined();
    // Another certificate's token does not fit alice's.
    const vicToken = /name="csrf" value="([^"]+)"/.exec(
      (await call(rig.url, 'GET', '/quarantine', { tls: client('vic') })).body,
    )![1]!;
    expect(vicToken).not.toBe(csrf);
    const crossed = await call(rig.url, 'POST', '/quarantine/3/purge', {
      tls: client('alice'),
      form: { confirm: 'yes', csrf: vicToken },
    });
    expect(crossed.status).toBe(403);
  });
});
