import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { progress, StackError } from './progress.js';
import { certPaths, stackPaths } from './paths.js';

function openssl(args: readonly string[], what: string): void {
  const r = spawnSync('openssl', args, { cwd: stackPaths.certsDir, encoding: 'utf8' });
  if (r.error !== undefined || r.status !== 0) {
    throw new StackError(`openssl failed while ${what}: ${r.error?.message ?? r.stderr}`);
  }
}

/** Issues a key (PKCS#8, unencrypted) and a certificate signed by the stack CA. */
function issue(
  name: string,
  subject: string,
  extensions: string,
  keyFile: string,
  certFile: string,
): void {
  const csr = join(stackPaths.certsDir, `${name}.csr`);
  const ext = join(stackPaths.certsDir, `${name}.ext`);
  writeFileSync(ext, extensions);
  openssl(
    ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', csr, '-subj', subject],
    `making the ${name} key`,
  );
  openssl(
    [
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      certPaths.caCert,
      '-CAkey',
      certPaths.caKey,
      '-CAcreateserial',
      '-out',
      certFile,
      '-days',
      '825',
      '-sha256',
      '-extfile',
      ext,
    ],
    `signing the ${name} certificate`,
  );
  rmSync(csr, { force: true });
  rmSync(ext, { force: true });
  chmodSync(keyFile, 0o600);
}

/**
 * Makes the throwaway CA, the broker certificate (SAN 127.0.0.1 and localhost) and a client
 * certificate for the mTLS listener, once; later `up`s reuse them. Keys are PKCS#8 PEM
 * (`BEGIN PRIVATE KEY`), which Kafka's PEM keystore requires.
 */
export function ensureCertificates(): void {
  const all = Object.values(certPaths);
  if (all.every((f) => existsSync(f))) return;
  progress('generating a throwaway CA, broker and client certificates (openssl)');
  rmSync(stackPaths.certsDir, { recursive: true, force: true });
  mkdirSync(stackPaths.certsDir, { recursive: true, mode: 0o700 });
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      certPaths.caKey,
      '-out',
      certPaths.caCert,
      '-days',
      '825',
      '-sha256',
      '-subj',
      '/CN=sealpost local stack CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    'making the CA',
  );
  chmodSync(certPaths.caKey, 0o600);
  issue(
    'broker',
    '/CN=localhost',
    'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n',
    certPaths.brokerKey,
    certPaths.brokerCert,
  );
  issue(
    'client',
    '/CN=sealpost-stack-client',
    'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n',
    certPaths.clientKey,
    certPaths.clientCert,
  );
  const key = readFileSync(certPaths.brokerKey, 'utf8');
  if (!key.includes('BEGIN PRIVATE KEY'))
    throw new StackError('openssl did not write a PKCS#8 broker key');
  // Kafka's PEM keystore: the private key, then the certificate chain (leaf first).
  writeFileSync(
    certPaths.brokerKeystore,
    key + readFileSync(certPaths.brokerCert, 'utf8') + readFileSync(certPaths.caCert, 'utf8'),
    { mode: 0o600 },
  );
}

/** A service's client certificate for the mTLS listener (PEM files). */
export interface ServiceCertificate {
  /** `User:CN=<identity>`: the principal Kafka's default mapping gives this certificate. */
  readonly principal: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string;
}

/**
 * Issues a client certificate with subject `CN=<identity>` signed by the stack CA into `outDir`
 * (`<identity>.crt`, `<identity>.key` mode 0600), so a service connects over mTLS as its own Kafka
 * principal (`User:CN=<identity>`) and `sealpost acl apply` can grant it exactly what the directory
 * allows. Needs the stack's certificates (`npm run stack -- up` makes them). A random serial (no
 * shared serial file) so concurrent issuers do not race.
 */
export function issueServiceCertificate(identity: string, outDir: string): ServiceCertificate {
  if (!/^[a-z0-9][a-z0-9._-]{0,62}$/.test(identity))
    throw new StackError(`"${identity}" is not an identity name`);
  if (!existsSync(certPaths.caCert) || !existsSync(certPaths.caKey)) {
    throw new StackError('the stack CA does not exist yet: run `npm run stack -- up` first');
  }
  mkdirSync(outDir, { recursive: true, mode: 0o700 });
  const keyFile = join(outDir, `${identity}.key`);
  const certFile = join(outDir, `${identity}.crt`);
  const csr = join(outDir, `${identity}.csr`);
  const ext = join(outDir, `${identity}.ext`);
  writeFileSync(
    ext,
    'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n',
  );
  try {
    openssl(
      [
        'req',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        keyFile,
        '-out',
        csr,
        '-subj',
        `/CN=${identity}`,
      ],
      `making the ${identity} key`,
    );
    openssl(
      [
        'x509',
        '-req',
        '-in',
        csr,
        '-CA',
        certPaths.caCert,
        '-CAkey',
        certPaths.caKey,
        '-set_serial',
        `0x${randomBytes(16).toString('hex')}`,
        '-out',
        certFile,
        '-days',
        '30',
        '-sha256',
        '-extfile',
        ext,
      ],
      `signing the ${identity} certificate`,
    );
  } finally {
    rmSync(csr, { force: true });
    rmSync(ext, { force: true });
  }
  chmodSync(keyFile, 0o600);
  return { principal: `User:CN=${identity}`, certFile, keyFile, caFile: certPaths.caCert };
}
