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

-- cjson's limit: an entry deeper than this is refused (the entry's own object is level 1)
local CJSON_MAX_DEPTH = 1000

local function clientEntry(raw, queued, take)
  local id, fn = string.match(raw, '^{"id":"([^"\\]+)","function":"([^"\\]+)"')
  if not id then return nil end
  -- (after the function's name: `{"id":"` is 7 bytes, `","function":"` 14, and a quote ends it)
  local from = 23 + #id + #fn
  -- (what could say more: a `\u` escape, a second "id" or "function", an option's name. Each
  -- asked by its own find, written out: a loop over a table of them cost a claim 3.3k Redis
  -- instructions per task more, bench/analysis.md's thirty-sixth session)
  local find = string.find
  if find(raw, '\\u', from, true) or find(raw, '"id"', from, true) or find(raw, '"function"', from, true)
    or find(raw, 'priority', from, true) or find(raw, 'group', from, true) or find(raw, 'manual_end', from, true)
    or find(raw, 'attempts', from, true) or find(raw, 'backoff', from, true) or find(raw, 'timeout', from, true) then
    return nil
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
    -- (a table per entry: one kept across calls saved about 1.7k instructions a task, and held
    -- the last entry taken, up to maxPayloadBytes, in Lua's heap until another came this way:
    -- bench/analysis.md, thirty-sixth session)
    return { raw = raw, id = id, fn = fn, priority = 0, group = '', manualEnd = false, unqueued = true }
  end
  if redis.call('SISMEMBER', queued, id) == 0 then return nil end
  return { raw = raw, id = id, fn = fn, priority = 0, group = '', manualEnd = false }
end
