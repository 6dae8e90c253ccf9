/** Visible progress for long stack operations: one plain line per step, on stderr. */
export function progress(message: string): void {
  process.stderr.write(`stack: ${message}\n`);
}

/** A Error whose message is meant for the person running the stack: what failed and what to do. */
export class StackError extends Error {
  override readonly name = 'StackError';
}
