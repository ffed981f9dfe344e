--[[
  lib/quote.lua: a name someone chose (a task id above all) as a message shows it, as
  src/quote.ts does: in double quotes, a quote, a backslash and every control character (line
  breaks above all, and U+2028/U+2029) escaped, so that an id cannot end the message early or
  pass for another line of a worker's log (the messages of parked entries are logged and
  stored). cjson.encode would do most of it, and write every "/" as "\/" besides.

  quoted(s) returns the quoted text.
]]

local QUOTED_ESCAPES = { ['"'] = '\\"', ['\\'] = '\\\\', ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t' }

local function quoted(s)
  s = string.gsub(s, '[%c"\\]', function(c) return QUOTED_ESCAPES[c] or string.format('\\u%04x', string.byte(c)) end)
  s = string.gsub(s, '\226\128([\168\169])', function(c) return c == '\168' and '\\u2028' or '\\u2029' end)
  return '"' .. s .. '"'
end
