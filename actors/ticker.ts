/**
 * A callback actor that runs `tick` every `intervalMs`, never two at once (a slow tick delays
 * the next rather than piling up). Heartbeats and peer-list refreshes are tickers.
 */
import { fromCallback, type AnyEventObject } from 'xstate';

export function ticker(intervalMs: number, tick: (send: (e: AnyEventObject) => void) => Promise<void>, onError: (e: unknown) => void) {
  return fromCallback<AnyEventObject>(({ sendBack }) => {
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    const loop = async () => {
      try {
        await tick(sendBack);
      } catch (e) {
        if (!stopped) onError(e);
      }
      if (!stopped) timer = setTimeout(loop, intervalMs);
    };
    timer = setTimeout(loop, intervalMs);
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  });
}
