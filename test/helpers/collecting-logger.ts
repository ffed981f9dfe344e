/** A logger that keeps its warnings and errors, in order, as text (`lines`), for a test to read. */
export function collectingLogger() {
  const lines: string[] = [];
  const keep = (m: unknown) => void lines.push(String(m));
  return { lines, logger: { debug() {}, info() {}, warn: keep, error: keep } };
}
