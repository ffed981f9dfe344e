--[[
  lib/client-entry.lua: an entry Client.submit wrote for a task of the seed's kind, read without
  decoding it (cjson builds a table of every field, which a claim of such an entry never reads).

  clientEntry(raw, queued) returns the judged entry claim.lua's `judge` would return for it,
  { raw, id, fn, priority = 0, group = '', manualEnd = false }, when raw is
  `{"id":<id>,"function":<fn>,...` as JSON.stringify writes a submit's entry, its id is in
  `queued` (written by Client, which checked it: claim.lua does not judge such an entry's text
  or id again, docs/semantics.md), and nothing after the function's name holds a word the judge
  reads (an option, a second "id" or "function", or a `\u` escape, which could spell one): its
  id and function are then what cjson would decode. Other escapes (`\"`, `\\`, `\n`...) spell
  no letter, and are what data holding quotes, newlines or JSON text is written with: such an
  entry read by its fields costs a claim a tenth less than decoded. Nor may it hold as many
  brackets as cjson's depth limit (1000 levels, lib/strict-json.lua): cjson refuses an entry
  nested that deep, which the judge then parks bad_json, and this path must not run what the
  judge refuses. Else nil: the entry is decoded and judged in full.

  take: its id is asked of `queued` with SREM rather than SISMEMBER, for a claim about to take
  the entry (the claim's own SREM of it is then done): the entry carries `unqueued = true`, and
  the caller that does not take it after all puts the id back (SADD).
]]
local NOT_PLAIN = { '\\u', '"id"', '"function"', 'priority', 'group', 'manual_end', 'attempts', 'backoff', 'timeout' }

-- cjson's limit: an entry deeper than this is refused (the entry's own object is level 1)
local CJSON_MAX_DEPTH = 1000

local function clientEntry(raw, queued, take)
  local id, fn = string.match(raw, '^{"id":"([^"\\]+)","function":"([^"\\]+)"')
  if not id then return nil end
  -- (after the function's name: `{"id":"` is 7 bytes, `","function":"` 14, and a quote ends it)
  local from = 23 + #id + #fn
  for i = 1, #NOT_PLAIN do
    if string.find(raw, NOT_PLAIN[i], from, true) then return nil end
  end
  -- (a bracket inside a string counts too: such an entry is decoded, never wrongly read; an entry
  -- shorter than the brackets it would need is not searched at all)
  if #raw - from + 1 >= CJSON_MAX_DEPTH then
    local opens, at = 0, from
    while true do
      at = string.find(raw, '[%[{]', at)
      if not at then break end
      opens = opens + 1
      if opens >= CJSON_MAX_DEPTH then return nil end
      at = at + 1
    end
  end
  if take then
    if redis.call('SREM', queued, id) == 0 then return nil end
    return { raw = raw, id = id, fn = fn, priority = 0, group = '', manualEnd = false, unqueued = true }
  end
  if redis.call('SISMEMBER', queued, id) == 0 then return nil end
  return { raw = raw, id = id, fn = fn, priority = 0, group = '', manualEnd = false }
end
