--[[
  lib/strict-json.lua: Redis's JSON decoder (cjson) accepts text that JSON.parse refuses: NaN and
  Infinity, hex numbers (0x10), a leading + or leading zeros, a trailing dot (1.), and raw control
  characters inside strings. Workers read every entry with JSON.parse, so such an entry, once
  claimed, would fail in the worker. The scripts decide validity (as JSON.parse judges it) here,
  in one place: jsonProblem runs after cjson.decode succeeded, so the structure is known to be
  sound, and looks only at those lenient forms: the tokens outside strings, and control characters
  inside them. The scan jumps from quote to quote with string.find (C speed), so it costs a few
  microseconds for a typical entry.

  The other way round, cjson refuses what JSON.parse accepts in two cases (lone surrogates in
  \u escapes, nesting deeper than 1000): those entries are refused too, as bad_json, by cjson
  (recorded on the task whose id such an entry starts with, claim.lua's `judge`).

  jsonProblem(raw) returns nil when raw is JSON as JSON.parse reads it, else what is wrong.
  (claim.lua asks it only of entries Client.submit did not write: docs/semantics.md.)
]]
--@include lib/quote.lua
local function validNumber(tok)
  local body = tok
  if string.byte(body, 1) == 45 then body = string.sub(body, 2) end -- '-'
  local int = string.match(body, '^%d+')
  if not int or (#int > 1 and string.byte(int, 1) == 48) then return false end -- none, or a leading zero
  local rest = string.sub(body, #int + 1)
  if string.byte(rest, 1) == 46 then -- '.': at least one digit must follow
    local frac = string.match(rest, '^%.%d+')
    if not frac then return false end
    rest = string.sub(rest, #frac + 1)
  end
  return rest == '' or string.find(rest, '^[eE][%+%-]?%d+$') ~= nil
end

local function scanJsonProblem(raw)
  local n = #raw
  local ctl = string.find(raw, '[%z\1-\31]')
  local i = 1
  while true do
    local q = string.find(raw, '"', i, true)
    -- between strings: structure, whitespace, numbers and the three literals
    for tok in string.gmatch(string.sub(raw, i, (q or n + 1) - 1), '[^ \t\n\r{}%[%],:]+') do
      if tok ~= 'true' and tok ~= 'false' and tok ~= 'null' and not validNumber(tok) then
        return quoted(string.sub(tok, 1, 24)) .. ' is not a JSON value'
      end
    end
    if not q then return nil end
    local close
    local j = q + 1
    repeat
      local k = string.find(raw, '["\\]', j)
      if not k then return 'a string is not closed' end
      if string.byte(raw, k) == 34 then close = k else j = k + 2 end
    until close
    while ctl and ctl < q do ctl = string.find(raw, '[%z\1-\31]', ctl + 1) end
    if ctl and ctl < close then return 'a raw control character inside a string (write it as \\u' .. string.format('%04x', string.byte(raw, ctl)) .. ')' end
    i = close + 1
  end
end

-- True when raw (decoded by cjson already) is sure to be JSON as JSON.parse reads it, decided by
-- a few pattern passes over the text, where the scan above walks it token by token (the scan's
-- cost was a fifth of a claim's): its strings that hold neither an escape nor a control
-- character taken out, nothing is left but brackets, commas, colons and integers without a
-- leading zero. A string that holds either is not taken out whole, and its backslash or control
-- character is left behind (no string taken out holds one), so the skeleton check refuses it: no
-- separate pass over the whole text looks for them. Anything else (a literal, a fraction, an
-- exponent, an escape, whitespace, DEL) is left to the scan: this only ever says yes to what
-- the scan accepts (test/strict-json.test.ts checks it on generated text). Each pass costs
-- about 20 ns a byte in Lua's matcher; a plain find, used where it can rule a pass out, a few.
local function plainJson(raw)
  local skeleton = string.gsub(raw, '"[^"\\%c]*"', '')
  if string.find(skeleton, '[^{}%[%],:%d%-]') then return false end
  if string.find(skeleton, '-', 1, true) and (string.find(skeleton, '%-%D') or string.find(skeleton, '%-$')) then return false end
  return not string.find(skeleton, '%f[%d]0%d')
end

local function jsonProblem(raw)
  if plainJson(raw) then return nil end
  return scanJsonProblem(raw)
end
