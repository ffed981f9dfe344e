/** A logger that keeps its warnings and errors, in order, as text (`lines`), for a test to read. */
export function collectingLogger() {
  const lines: string[] = [];
  const keep = (m: unknown) => void lines.push(String(m));
  return { lines, logger: { debug() {}, info() {}, warn: keep, error: keep } };
}

/** A logger that keeps every line at INFO and above with its level (`lines`); `at(level)` their texts. */
export function levelledLogger() {
  const lines: { level: 'info' | 'warn' | 'error'; text: string }[] = [];
  const keep = (level: 'info' | 'warn' | 'error') => (m: unknown) => void lines.push({ level, text: String(m) });
  return { lines, at: (level: 'info' | 'warn' | 'error') => lines.filter((l) => l.level === level).map((l) => l.text), logger: { debug() {}, info: keep('info'), warn: keep('warn'), error: keep('error') } };
}
