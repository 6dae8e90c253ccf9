/**
 * The CLI environment of an operator who signs quarantine releases (docs/SPEC.md §11,
 * docs/OPERATIONS.md "Quarantine"): the identity `name` of a pipeline world written to a key file, the
 * world's local KMS, and its current directory as a file. The directory must grant the identity
 * `release` (`world.change([{ ...world.draft(name), releaseTopics: [topic] }])`).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeIdentityFile } from '../../src/keys/identity-file.js';
import { getEndpoints } from './endpoints.js';
import type { PipelineWorld } from './pipeline-world.js';

export async function operatorCliEnv(
  world: PipelineWorld,
  name: string,
  quarantineDb: string,
): Promise<Record<string, string>> {
  const identityFile = join(world.dir, `${name}.json`);
  await writeIdentityFile(identityFile, world.files.get(name)!, { overwrite: true });
  const directoryFile = join(world.dir, `cli-directory-${name}.json`);
  writeFileSync(directoryFile, JSON.stringify(world.document()));
  return {
    SEALPOST_QUARANTINE_DB: quarantineDb,
    KAFKA_BROKERS: getEndpoints().kafkaBrokers.join(','),
    SEALPOST_IDENTITY_FILE: identityFile,
    SEALPOST_KMS: 'local',
    SEALPOST_LOCAL_KEK_FILE: join(world.dir, 'kek.json'),
    SEALPOST_DIRECTORY_FILE: directoryFile,
    SEALPOST_DIRECTORY_STATE_FILE: join(world.dir, `cli-directory-state-${name}.json`),
    SEALPOST_AUTHORITY_PUBLIC_KEY: Buffer.from(
      world.document().authority.publicKey,
      'base64',
    ).toString('hex'),
  };
}
