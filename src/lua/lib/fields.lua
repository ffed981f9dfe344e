--[[
  lib/fields.lua: read a task's hash without raising when its key holds another type (written by
  hand, or by another app sharing the db). Redis keeps what a script wrote before it raised (a
  script has no rollback), so a script that raised half-way through a batch would lose or strand
  the tasks it had already touched; a key that is not a task hash is instead treated as "not a
  task of ours" by each script.

  fields(key, ...) returns the values of those fields (HMGET), or nil when the key is not a hash.
  int(v) is v as an integer, or nil when it is not a number (a field edited by hand).
  functionOf(fn, data): the task's function, from its hash's field (fn) or else from its entry
  (data: a hash written by hand may lack the field), or nil.
  num(v) is v as a finite number, or nil: tonumber takes "nan" and "inf", which ZADD refuses,
  and a script that raised after its first write would leave a task half-moved.
  SMALL_INT_TEXT[n] is the integer n from 0 to 63 as `%d` writes it (nil for any other n).
  SMALL_INT_OF[s] is the integer written s, for s from '0' to '63' as `%d` writes them (nil for any
  other s: `SMALL_INT_OF[s] or tonumber(s)` is tonumber(s)).
]]
local function fields(key, ...)
  local r = redis.pcall('HMGET', key, ...)
  if type(r) == 'table' and r.err then return nil end
  return r
end

-- the integers 0..63 as text (as `%d` writes them): the counts a claim writes (an
-- attempt, a claim, a block of routing numbers) are almost always small, and a printf is most of
-- what writing one costs (written out: a library's load cannot reach string.format)
local SMALL_INT_TEXT = {
  [0] = '0',
  '1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11', '12', '13', '14', '15', '16', '17',
  '18', '19', '20', '21', '22', '23', '24', '25', '26', '27', '28', '29', '30', '31', '32', '33',
  '34', '35', '36', '37', '38', '39', '40', '41', '42', '43', '44', '45', '46', '47', '48', '49',
  '50', '51', '52', '53', '54', '55', '56', '57', '58', '59', '60', '61', '62', '63'
}

-- and the other way, the text of each as its number: the counts a claim is given (its room per
-- function, how many to take, acknowledgements) read without a strtod each
local SMALL_INT_OF = {
  ['0'] = 0, ['1'] = 1, ['2'] = 2, ['3'] = 3, ['4'] = 4, ['5'] = 5, ['6'] = 6, ['7'] = 7,
  ['8'] = 8, ['9'] = 9, ['10'] = 10, ['11'] = 11, ['12'] = 12, ['13'] = 13, ['14'] = 14,
  ['15'] = 15, ['16'] = 16, ['17'] = 17, ['18'] = 18, ['19'] = 19, ['20'] = 20, ['21'] = 21,
  ['22'] = 22, ['23'] = 23, ['24'] = 24, ['25'] = 25, ['26'] = 26, ['27'] = 27, ['28'] = 28,
  ['29'] = 29, ['30'] = 30, ['31'] = 31, ['32'] = 32, ['33'] = 33, ['34'] = 34, ['35'] = 35,
  ['36'] = 36, ['37'] = 37, ['38'] = 38, ['39'] = 39, ['40'] = 40, ['41'] = 41, ['42'] = 42,
  ['43'] = 43, ['44'] = 44, ['45'] = 45, ['46'] = 46, ['47'] = 47, ['48'] = 48, ['49'] = 49,
  ['50'] = 50, ['51'] = 51, ['52'] = 52, ['53'] = 53, ['54'] = 54, ['55'] = 55, ['56'] = 56,
  ['57'] = 57, ['58'] = 58, ['59'] = 59, ['60'] = 60, ['61'] = 61, ['62'] = 62, ['63'] = 63
}

local function functionOf(fn, data)
  if fn then return fn end
  local ok, task = pcall(cjson.decode, data or '')
  if ok and type(task) == 'table' and type(task['function']) == 'string' and task['function'] ~= '' then return task['function'] end
end

local function num(v)
  local n = tonumber(v)
  if not n or n ~= n or n == math.huge or n == -math.huge then return nil end
  return n
end

local function int(v)
  local n = tonumber(v)
  if not n or n ~= n or n == math.huge or n == -math.huge then return nil end
  return math.floor(n)
end

-- a count read from a hash (v), as JSON: itself when it is written as an integer already (as the
-- scripts write counts), else as `%d` formats it (0 for none): no number conversion, and no
-- printf, for what the scripts wrote
local function intText(v)
  -- (a small one found in a table, where the pattern's match costs as much as a printf)
  if SMALL_INT_OF[v] then return v end
  if type(v) == 'string' and string.find(v, '^[1-9]%d?%d?%d?%d?%d?%d?%d?$') then return v end
  return string.format('%d', int(v) or 0)
end
