/**
 * Puts a replacement for one of kafkajs' internal modules into Node's module cache under that
 * module's own path, so kafkajs picks it up when it first requires it (kafkajs offers no option for
 * either replacement that uses this: kafkajs-crc32c.ts, kafkajs-grouping.ts). The importers must be
 * evaluated before kafkajs loads the module: src/kafka/kafkajs-transport.ts imports them before
 * kafkajs.
 */
import { createRequire, Module } from 'node:module';

export const kafkajsRequire = createRequire(import.meta.url);

/** The resolved path of a kafkajs module, or undefined when kafkajs is not where we expect it. */
export function kafkajsModulePath(id: string): string | undefined {
  try {
    return kafkajsRequire.resolve(id);
  } catch {
    return undefined;
  }
}

/** True when kafkajs (or anything) already loaded the module at `path`: too late to replace it. */
export function alreadyLoaded(path: string): boolean {
  return kafkajsRequire.cache[path] !== undefined;
}

/** Makes `exports` what `require(path)` returns from now on in this process. */
export function preloadModule(path: string, exports: unknown): void {
  const m = new Module(path);
  m.filename = path;
  m.loaded = true;
  m.exports = exports;
  kafkajsRequire.cache[path] = m;
}
