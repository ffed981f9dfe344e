/**
 * Wait for `p` at most `ms`: resolves with its value, or with undefined when the time is up (or
 * when it rejects). The timer is cleared either way, so a bounded wait never keeps a process
 * alive after it has done its work.
 */
export async function within<T>(ms: number, p: Promise<T>): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeUp = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([p.catch(() => undefined), timeUp]);
  } finally {
    clearTimeout(timer);
  }
}
