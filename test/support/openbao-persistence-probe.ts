/**
 * A child process (run by test/integration/stack-openbao-persistent.test.ts) that exercises the stack's
 * persistent OpenBao mode on its own port offset (SEALPOST_STACK_PORT_OFFSET, set by the caller, so the
 * shared stack is never touched): start, initialise and unseal it, create a Transit key and seal a
 * probe, `restart openbao` (stack/stack.ts stackRestart), open the probe again, stop it and delete its
 * state. Prints one JSON line: whether the probe opened after the restart (nothing secret).
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';

if ((process.env.SEALPOST_STACK_PORT_OFFSET ?? '') === '')
  throw new Error('SEALPOST_STACK_PORT_OFFSET must be set (never the shared stack)');
const { configureOpenbao, openbaoAnswers, startOpenbao, unsealOpenbao, vaultAddr } =
  await import('../../stack/openbao.js');
const { stackRestart } = await import('../../stack/stack.js');
const { stopService } = await import('../../stack/processes.js');
const { stackPaths } = await import('../../stack/paths.js');

async function transit(
  token: string,
  path: string,
  body: unknown,
): Promise<Record<string, string>> {
  const res = await fetch(`${vaultAddr}/v1/transit/${path}`, {
    method: 'POST',
    headers: { 'X-Vault-Token': token, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`transit/${path} answered HTTP ${res.status}`);
  return text === '' ? {} : ((JSON.parse(text) as { data: Record<string, string> }).data ?? {});
}

let result: { survived: boolean; restarted: boolean };
try {
  startOpenbao('persistent', undefined);
  const deadline = Date.now() + 60_000;
  while (!(await openbaoAnswers())) {
    if (Date.now() > deadline) throw new Error('OpenBao did not answer in 60 s');
    await new Promise((r) => setTimeout(r, 250));
  }
  const token = await unsealOpenbao();
  await configureOpenbao(token);
  const key = `probe-${randomBytes(4).toString('hex')}`;
  await transit(token, `keys/${key}`, {});
  const plaintext = randomBytes(32).toString('base64');
  const { ciphertext } = await transit(token, `encrypt/${key}`, { plaintext });
  await stackRestart('openbao');
  const opened = await transit(token, `decrypt/${key}`, { ciphertext });
  result = { restarted: true, survived: opened.plaintext === plaintext };
} finally {
  await stopService('openbao');
  rmSync(stackPaths.state, { recursive: true, force: true });
}
process.stdout.write(`${JSON.stringify(result)}\n`);
