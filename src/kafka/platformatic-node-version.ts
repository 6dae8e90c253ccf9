/**
 * The Node versions @platformatic/kafka runs on (its package.json: `>= 22.22.0 || >= 24.6.0`). On
 * older ones it loads but fails at its first request (it uses Promise.withResolvers, among others),
 * so the adapter refuses up front with a message naming what to upgrade (docs/TRANSPORTS.md).
 */

/** Why this Node cannot run @platformatic/kafka, or undefined when it can. */
export function platformaticNodeProblem(
  version: string = process.versions.node,
): string | undefined {
  const [major = 0, minor = 0] = version.split('.').map((p) => Number.parseInt(p, 10));
  const ok = (major === 22 && minor >= 22) || (major === 24 && minor >= 6) || major >= 25;
  return ok
    ? undefined
    : `@platformatic/kafka needs Node >= 22.22 (22.x) or >= 24.6; this is Node ${version}`;
}
