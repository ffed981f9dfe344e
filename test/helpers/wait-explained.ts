/**
 * `client.wait` for a task after a Redis fault, that says what it saw when the task does not end
 * in time: the task's hash as the client reads it then, and what the components logged. A wait
 * that times out under a full CI run (a task after a restart without data has been seen to take
 * more than 20 s there, and about 4 s alone) then leaves the evidence in CI's output.
 */
import { TimeoutError, type Client, type TaskInfo } from '../../src/index.js';

export async function waitExplained(client: Client, id: string, timeout: number, logs: readonly string[] = []): Promise<TaskInfo> {
  const started = Date.now();
  try {
    return await client.wait(id, { timeout });
  } catch (e) {
    if (!(e instanceof TimeoutError)) throw e;
    const now = await client.get(id).then(
      (t) => JSON.stringify(t),
      (err: unknown) => `unreadable: ${String(err)}`,
    );
    throw new Error(`task "${id}" did not end within ${timeout} ms (waited ${Date.now() - started} ms); its hash now: ${now}\nlogs:\n${logs.slice(-60).join('\n')}`, { cause: e });
  }
}
