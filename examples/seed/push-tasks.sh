#!/bin/sh
# Push tasks the way the seed's producers did: a JSON entry LPUSHed onto `new-task`, with the
# task's data as a JSON string. Then stop one of them through its control channel.
#
#   examples/seed/push-tasks.sh [suffix]
#
# Redis: REDIS_URL, or 127.0.0.1:6379. Task ids must be unused: an id that is still running or
# retained (1 h after it ended, by default) is parked in the dead-letter list as a duplicate, so
# give a suffix to push a fresh set (e.g. `push-tasks.sh 2` pushes abc2, def2, ghi2).
set -eu

s="${1:-}"
if [ -n "${REDIS_URL:-}" ]; then
  cli() { redis-cli -u "$REDIS_URL" "$@"; }
else
  cli() { redis-cli -h 127.0.0.1 -p 6379 "$@"; }
fi

cli LPUSH new-task "{\"id\":\"abc$s\",\"function\":\"test\",\"data\":\"{}\"}"
cli LPUSH new-task "{\"id\":\"def$s\",\"function\":\"test\",\"data\":\"{\\\"colour\\\":\\\"blue\\\"}\"}"
cli LPUSH new-task "{\"id\":\"ghi$s\",\"function\":\"test\",\"data\":\"{}\"}"

# Talk to a running task: a custom event (answered with a `pong` event), then `stop`.
sleep 2
cli PUBLISH "task-abc$s-control" '{"event_name":"ping","event":{"hello":"world"}}'
cli PUBLISH "task-abc$s-control" stop
