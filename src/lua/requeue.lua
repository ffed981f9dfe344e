--[[
  requeue.lua: the monitor's sweep. Takes RUNNING tasks whose last heartbeat is older than the
  timeout (read from the lease index, so the cost is O(stale tasks), not O(all tasks)),
  re-checks each against its hash and puts it back at the head of the queue; a task already
  claimed maxAttempts times is parked in the dead-letter list and ended as failed instead.
  Check and requeue happen in this one script, so two monitors never requeue a task twice.

  When every worker has missed three heartbeats, the swarm went silent (an outage, not a mass
  death): requeues are held for one taskTimeout, once per silence, so that every worker can
  heartbeat first (see renew.lua, which makes the same check). If no worker comes back,
  requeues resume after that one grace.

  KEYS[1] leases (zset)   KEYS[2] taskSet   KEYS[3] newQueue   KEYS[4] deadLetter   KEYS[5] ended
  KEYS[6] workerSeen (zset: worker -> when it is overdue)   KEYS[7] grace   KEYS[8] outage (hash: timeout, silence)
  KEYS[9] workerSet

  Workers overdue for two taskTimeouts are taken out of `workers` (their tasks have been
  requeued by then), so that peers stop counting them when they probe for a quorum; a worker
  that was only cut off lists itself again with its next heartbeat.
  ARGV[1] task key prefix   ARGV[2] taskTimeout ms   ARGV[3] max tasks this call
  ARGV[4] maxAttempts   ARGV[5] monitor name

  Returns { requeued ids, parked ids, next deadline ms or -1, now, grace ms left (0 = none),
            pruned workers }
]]
local prefix, timeout, limit, maxAttempts = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cutoff = now - timeout

redis.call('HSET', KEYS[8], 'timeout', timeout)
local last = redis.call('ZRANGE', KEYS[6], -1, -1, 'WITHSCORES')
if last[2] and now > tonumber(last[2]) and redis.call('HGET', KEYS[8], 'silence') ~= last[2] then
  redis.call('HSET', KEYS[8], 'silence', last[2])
  redis.call('SET', KEYS[7], now, 'PX', timeout)
end
local graceLeft = redis.call('PTTL', KEYS[7])
if graceLeft > 0 then
  return { {}, {}, now + graceLeft, now, graceLeft, {} }
end

local requeued, parked = {}, {}
local stale = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', cutoff, 'LIMIT', 0, limit)
for _, id in ipairs(stale) do
  local key = prefix .. id
  local h = redis.call('HMGET', key, 'state', 'update', 'attempt', 'data', 'worker', 'history')
  if h[1] ~= 'RUNNING' then
    redis.call('ZREM', KEYS[1], id)
  elseif tonumber(h[2]) and tonumber(h[2]) > cutoff then
    redis.call('ZADD', KEYS[1], tonumber(h[2]), id)
  else
    local attempt = tonumber(h[3]) or 0
    local record = cjson.encode({ worker = h[5], attempt = attempt, at = now, reason = 'heartbeat timeout' })
    local history = h[6] and (string.sub(h[6], 1, -2) .. ',' .. record .. ']') or ('[' .. record .. ']')
    redis.call('ZREM', KEYS[1], id)
    local channel = key .. '-events'
    if attempt >= maxAttempts then
      local message = 'task "' .. id .. '" was claimed ' .. attempt .. ' times and its worker died each time (maxAttempts ' .. maxAttempts .. ')'
      local err = cjson.encode({ name = 'MaxAttemptsError', code = 'ERR_MAX_ATTEMPTS', message = message })
      redis.call('HSET', key, 'state', 'END', 'end', now, 'update', now, 'outcome', 'failed', 'error', err, 'history', history)
      redis.call('HDEL', key, 'lease')
      redis.call('RPUSH', KEYS[5], id)
      redis.call('LPUSH', KEYS[4], cjson.encode({ reason = 'max_attempts', message = message, raw = h[4], id = id, at = now,
        worker = ARGV[5], history = cjson.decode(history) }))
      redis.call('PUBLISH', channel, '{"event":"end","data":{"id":' .. cjson.encode(id) .. ',"outcome":"failed","error":' .. err .. '},"at":' .. now .. '}')
      parked[#parked + 1] = id
    else
      redis.call('HSET', key, 'state', 'QUEUED', 'update', now, 'history', history)
      redis.call('HDEL', key, 'lease', 'worker')
      redis.call('SREM', KEYS[2], id)
      redis.call('RPUSH', KEYS[3], h[4])
      redis.call('PUBLISH', channel, '{"event":"requeued","data":{"id":' .. cjson.encode(id) .. ',"attempt":' .. attempt .. ',"worker":' .. cjson.encode(h[5] or '') .. ',"reason":"heartbeat timeout"},"at":' .. now .. '}')
      requeued[#requeued + 1] = id
    end
  end
end

local pruned = redis.call('ZRANGEBYSCORE', KEYS[6], '-inf', now - 2 * timeout, 'LIMIT', 0, 100)
for _, w in ipairs(pruned) do
  redis.call('ZREM', KEYS[6], w)
  redis.call('SREM', KEYS[9], w)
end

local nextDeadline = -1
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if first[2] then nextDeadline = tonumber(first[2]) + timeout end
return { requeued, parked, nextDeadline, now, 0, pruned }
