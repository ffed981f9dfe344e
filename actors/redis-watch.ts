/**
 * Watches a Redis connection and tells the machine when it is lost and when it is back. A
 * single close is enough to report the loss: the machine's probing decides what it means.
 */
import type { Redis } from 'ioredis';
import { fromCallback, type AnyEventObject } from 'xstate';

export function redisWatch(redis: Redis) {
  return fromCallback<AnyEventObject>(({ sendBack }) => {
    let lost = false;
    const onClose = () => {
      if (lost) return;
      lost = true;
      sendBack({ type: 'REDIS_LOST' });
    };
    const onReady = () => {
      if (!lost) return;
      lost = false;
      sendBack({ type: 'REDIS_BACK' });
    };
    redis.on('close', onClose);
    redis.on('ready', onReady);
    return () => {
      redis.off('close', onClose);
      redis.off('ready', onReady);
    };
  });
}
