//! The Lua the stores run on Redis: each script changes what it touches atomically, in one
//! round trip. Every answer carries what the script judged, so the Rust rules (kya-verify's)
//! judge it again and a disagreement is "unavailable", never an admission.

use std::sync::LazyLock;

use redis::Script;

pub(crate) const DECIMAL_LUA: &str = r"
local function strip(d)
  d = string.gsub(d, '^0+', '')
  if d == '' then return '0' end
  return d
end
local function add(a, b)
  local out, carry, i, j = {}, 0, #a, #b
  while i > 0 or j > 0 or carry > 0 do
    local x = carry
    if i > 0 then x = x + string.byte(a, i) - 48; i = i - 1 end
    if j > 0 then x = x + string.byte(b, j) - 48; j = j - 1 end
    out[#out + 1] = string.char(48 + x % 10)
    carry = math.floor(x / 10)
  end
  return strip(string.reverse(table.concat(out)))
end
local function sub(a, b)
  local out, borrow, i, j = {}, 0, #a, #b
  while i > 0 do
    local x = string.byte(a, i) - 48 - borrow
    if j > 0 then x = x - (string.byte(b, j) - 48); j = j - 1 end
    if x < 0 then x = x + 10; borrow = 1 else borrow = 0 end
    out[#out + 1] = string.char(48 + x)
    i = i - 1
  end
  return strip(string.reverse(table.concat(out)))
end
local function le(a, b)
  a, b = strip(a), strip(b)
  if #a ~= #b then return #a < #b end
  return a <= b
end
local function widen(m, s, to) return m .. string.rep('0', to - s) end
local function fmt(m, s)
  m = strip(m)
  if s == 0 then return m end
  if #m <= s then m = string.rep('0', s + 1 - #m) .. m end
  return string.sub(m, 1, #m - s) .. '.' .. string.sub(m, #m - s + 1)
end
local function parse_amount(t)
  local int, frac = string.match(t, '^(%d+)%.?(%d*)$')
  if not int then return nil end
  return int .. frac, #frac
end
";

/// The ledger rule's check in Lua. `judge(kb, ab, now, capacity)`: the live set is
/// `KEYS[kb]`, the counters `KEYS[kb + 1 ..]`, their arguments `ARGV[ab + 1 ..]`, 8 each:
/// kind (`b` budget, `r` rate, `x` cannot fit), window, window end, seconds to keep it
/// (server time), then for a budget the charge's mantissa and scale and the limit's
/// mantissa and scale, for a rate the limit count. Answers whether every charge fits, the
/// live count, every counter's value before and (if they fit) after, and which counters the
/// live set must (re)place. `apply` writes them.
///
/// The live set forgets closed windows only when the count with them would refuse (fewer
/// calls per charge): a count that fits with them fits without them, and a refusal is
/// judged on the exact count.
const LEDGER_LUA: &str = r"
local function judge(kb, ab, now, capacity)
  local live = redis.call('ZCARD', KEYS[kb])
  local n = #KEYS - kb
  local old = {}
  for i = 1, n do old[i] = redis.call('GET', KEYS[kb + i]) or '' end
  local new, place, fits, fresh = {}, {}, true, 0
  for i = 1, n do
    local o = ab + 8 * (i - 1)
    local kind, window, w_end = ARGV[o + 1], ARGV[o + 2], ARGV[o + 3]
    local k, w, e, x = string.match(old[i], '^([br]) (%-?%d+) (%-?%d+) ([%d.]+)$')
    if old[i] ~= '' and not k then fits = false; break end
    if old[i] == '' or tonumber(e) <= tonumber(now) then fresh = fresh + 1 end
    place[i] = old[i] == '' or e ~= w_end
    if kind == 'b' then
      local spent, s = '0', 0
      if k == 'b' and w == window then spent, s = parse_amount(x) end
      if not spent then fits = false; break end
      local cs, ls = tonumber(ARGV[o + 6]), tonumber(ARGV[o + 8])
      local scale = math.max(s, cs)
      local total = add(widen(spent, s, scale), widen(ARGV[o + 5], cs, scale))
      local top = math.max(scale, ls)
      if #total > 38 or not le(widen(total, scale, top), widen(ARGV[o + 7], ls, top)) then
        fits = false; break
      end
      new[i] = 'b ' .. window .. ' ' .. w_end .. ' ' .. fmt(total, scale)
    elseif kind == 'r' then
      local used = '0'
      if k == 'r' and w == window then used = string.match(x, '^%d+$') end
      if not used then fits = false; break end
      local count = add(used, '1')
      if not le(count, ARGV[o + 5]) then fits = false; break end
      new[i] = 'r ' .. window .. ' ' .. w_end .. ' ' .. count
    else
      fits = false; break
    end
  end
  if fits and live + fresh > tonumber(capacity) then
    redis.call('ZREMRANGEBYSCORE', KEYS[kb], '-inf', now)
    live = redis.call('ZCARD', KEYS[kb])
    if live + fresh > tonumber(capacity) then fits = false end
  end
  return fits, live, old, new, place
end
local function apply(kb, ab, new, place)
  for i = 1, #new do
    local o = ab + 8 * (i - 1)
    redis.call('SET', KEYS[kb + i], new[i], 'EX', ARGV[o + 4])
    if place[i] then redis.call('ZADD', KEYS[kb], ARGV[o + 3], KEYS[kb + i]) end
  end
end
local function answer(head, old, new)
  for i = 1, #old do head[#head + 1] = old[i] end
  if new then for i = 1, #new do head[#head + 1] = new[i] end end
  return head
end
";

/// Charges a chain's counters (the ledger alone).
///
/// KEYS: token, live set, counter 1 … n. ARGV: now, capacity, token seconds, then the
/// counters' arguments (see `judge`). Answers `done` for a repeat of an applied token,
/// `ok <live> <before>… <after>…` (applied) or `refused <live> <before>…` (nothing applied).
pub(crate) static CHARGE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{DECIMAL_LUA}{LEDGER_LUA}{}",
        r"
if redis.call('EXISTS', KEYS[1]) == 1 then return {'done'} end
local fits, live, old, new, place = judge(2, 3, ARGV[1], ARGV[2])
if not fits then return answer({'refused', tostring(live)}, old) end
apply(2, 3, new, place)
redis.call('SET', KEYS[1], '1', 'EX', ARGV[3])
return answer({'ok', tostring(live)}, old, new)
"
    ))
});

/// Records a request's nonce and, if there are counters, charges them: the nonce store
/// alone, or both at once.
///
/// KEYS: token, agent set, principal set, then (to charge) live set, counter 1 … n. ARGV:
/// nonce, principal member, until, now, token seconds, keep-sets-for (seconds from now, by
/// the server's clock: a verifier clock that differs from the server's never shortens what
/// is remembered), agent share, principal share, capacity, then the counters' arguments.
///
/// Answers `R` (the agent used the nonce and it is still remembered: nothing recorded or
/// charged), `Q <agent count> <principal count>` (a share is
/// full: nothing recorded or charged), or records the nonce and answers `ok <agent count>
/// <principal count> [<live> <before>… <after>…]` (charged) or `refused <agent count>
/// <principal count> <live> <before>…` (nothing charged, the nonce recorded all the same).
/// The counts are those held before, expired nonces included unless a share looked full
/// (then they are forgotten and counted again: a refusal is judged on the exact count, and a
/// count that fits with them fits without them). A repeat of a token that recorded answers `done`
/// after `ok`, and the counters judged again after `refused`.
pub(crate) static ADMIT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{DECIMAL_LUA}{LEDGER_LUA}{}",
        r"
local charging = #KEYS > 3
local prior = redis.call('GET', KEYS[1])
if prior then
  local verdict, a, p = string.match(prior, '^(%a+) (%d+) (%d+)$')
  if verdict == 'ok' then return {'done'} end
  local fits, live, old = judge(4, 9, ARGV[4], ARGV[9])
  return answer({'refused', a, p, tostring(live)}, old)
end
local now = ARGV[4]
local seen = redis.call('ZSCORE', KEYS[2], ARGV[1])
if seen and tonumber(seen) >= tonumber(now) then return {'R'} end
local a = redis.call('ZCARD', KEYS[2])
local p = redis.call('ZCARD', KEYS[3])
local full = function() return a >= tonumber(ARGV[7]) or p >= tonumber(ARGV[8]) end
if full() then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. now)
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. now)
  a = redis.call('ZCARD', KEYS[2])
  p = redis.call('ZCARD', KEYS[3])
  if full() then return {'Q', tostring(a), tostring(p)} end
end
local head, old, new = {'ok', tostring(a), tostring(p)}, {}, nil
if charging then
  local fits, live, before, after, place = judge(4, 9, now, ARGV[9])
  head[4], old = tostring(live), before
  if fits then apply(4, 9, after, place); new = after else head[1] = 'refused' end
end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[2])
-- A new set gets its expiry; an older one only a later one (GT).
local keep = ARGV[6]
for i, held in ipairs({a, p}) do
  if held == 0 then
    redis.call('EXPIRE', KEYS[i + 1], keep)
  else
    redis.call('EXPIRE', KEYS[i + 1], keep, 'GT')
  end
end
redis.call('SET', KEYS[1], head[1] .. ' ' .. head[2] .. ' ' .. head[3], 'EX', ARGV[5])
return answer(head, old, new)
"
    ))
});

/// Gives back budget charges (the ledger's refund rule, `plan_refunds`): each budget counter
/// still in the charge's window is lowered by the charge, zero at least, its expiry kept.
///
/// KEYS: token, counter 1 … n. ARGV: token seconds, then per counter the charge's window,
/// mantissa and scale. Answers `done` for a repeat of an applied token, else
/// `ok <before>… <after>…` (a counter in another window, or absent, unchanged).
pub(crate) static REFUND: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{DECIMAL_LUA}{LEDGER_LUA}{}",
        r"
if redis.call('EXISTS', KEYS[1]) == 1 then return {'done'} end
local old, new = {}, {}
for i = 2, #KEYS do
  local o = 1 + 3 * (i - 2)
  local v = redis.call('GET', KEYS[i]) or ''
  old[#old + 1], new[#new + 1] = v, v
  local k, w, e, x = string.match(v, '^([br]) (%-?%d+) (%-?%d+) ([%d.]+)$')
  local spent, s = nil, 0
  if k == 'b' and w == ARGV[o + 1] then spent, s = parse_amount(x) end
  if spent then
    local cs = tonumber(ARGV[o + 3])
    local scale = math.max(s, cs)
    local have, back = widen(spent, s, scale), widen(ARGV[o + 2], cs, scale)
    local left = '0'
    if not le(have, back) then left = sub(have, back) end
    new[#new] = 'b ' .. w .. ' ' .. e .. ' ' .. fmt(left, scale)
    redis.call('SET', KEYS[i], new[#new], 'KEEPTTL')
  end
end
redis.call('SET', KEYS[1], '1', 'EX', ARGV[1])
return answer({'ok'}, old, new)
"
    ))
});
