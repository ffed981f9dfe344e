/**
 * One task followed for an open page: its events, and its task machine's state. The state is
 * published by the worker running the task only while someone asks (a `watch` control message,
 * good for WATCH_TTL), so the page follows it by asking again before the watch lapses; soon
 * after opening (the subscription may not be in place when the first answer goes out, or no
 * worker runs it yet), and soon again when the task goes back to wait for another claim. Not
 * at all once Redis has refused the subscription.
 */
import type { Client } from '../client.js';
import { STATE_EVENT, WATCH_CONTROL, WATCH_TTL, type TaskEvent } from '../wire.js';

/** the first asks' delay (ms), doubled up to RENEW until a state is heard */
const FIRST_ASK = 500;
/** the delay between asks once a state is heard: well within a watch's life */
const RENEW = WATCH_TTL / 3;

/** follow task `id`; returns the function that stops following it, and when its events are live (`ready`) */
export function followTask(client: Client, id: string, onEvent: (ev: TaskEvent) => void): (() => void) & { ready: Promise<void> } {
  let timer: NodeJS.Timeout | undefined;
  let delay = FIRST_ASK;
  let done = false;
  const askIn = (ms: number) => {
    clearTimeout(timer);
    if (done) return;
    timer = setTimeout(ask, ms);
    timer.unref();
  };
  const ask = () => {
    client.control(id, WATCH_CONTROL).catch(() => {});
    askIn(delay);
    delay = Math.min(delay * 2, RENEW);
  };
  const off = client.subscribe(id, (ev) => {
    if (ev.event === STATE_EVENT && delay < RENEW) {
      delay = RENEW;
      askIn(RENEW);
    } else if (ev.event === 'requeued' || ev.event === 'retrying') {
      // its next claim is another machine, unwatched: ask soon again
      delay = FIRST_ASK;
      askIn(FIRST_ASK);
    } else if (ev.event === 'end') {
      clearTimeout(timer);
    }
    onEvent(ev);
  });
  // (a channel the Redis user may not read: the page is told, server.ts; asking a worker to
  // publish states no one here can hear would go on for as long as the page stays open)
  off.ready.catch(() => {
    done = true;
    clearTimeout(timer);
  });
  ask();
  const stop = () => {
    done = true;
    clearTimeout(timer);
    off();
  };
  return Object.assign(stop, { ready: off.ready });
}
