/** The only place in src/ that reads the process environment (entry points pass it on). */
export function readEnv(): Readonly<Record<string, string | undefined>> {
  return process.env;
}
