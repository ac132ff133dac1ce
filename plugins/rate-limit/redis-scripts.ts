// The Lua scripts of the Redis store. One script per request reads, decides and counts atomically, so any
// number of gateway processes share a limit exactly; the clock is Redis's own (TIME), so their clocks need not
// agree. Each client keeps one hash per bucket, which expires once it no longer matters. The comparisons are
// the ones of sliding-window.ts and token-bucket.ts, in the same arithmetic (doubles on both sides).

/**
 * KEYS[1]: the bucket's hash { w: window index, c: its count, p: the previous window's count }.
 * ARGV: limit, window (ms). Returns { allowed (1/0), previous, current (before this request), elapsed (ms) }.
 */
export const SLIDING_WINDOW_LUA = `
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local index = math.floor(now / window)
local elapsed = now - index * window
local state = redis.call('HMGET', KEYS[1], 'w', 'c', 'p')
local stored = tonumber(state[1])
local current = tonumber(state[2]) or 0
local previous = tonumber(state[3]) or 0
if stored ~= index then
  if stored == index - 1 then previous = current else previous = 0 end
  current = 0
end
if (previous * (window - elapsed)) / window + current + 1 <= limit then
  redis.call('HSET', KEYS[1], 'w', index, 'c', current + 1, 'p', previous)
  redis.call('PEXPIRE', KEYS[1], window * 2)
  return {1, previous, current, elapsed}
end
return {0, previous, current, elapsed}
`;

/**
 * KEYS[1]: the bucket's hash { t: tokens, at: when they were counted (ms) }. ARGV: limit, window (ms), burst.
 * Returns { allowed (1/0), the tokens found (refilled to now, before this request) as text: replies truncate numbers }.
 */
export const TOKEN_BUCKET_LUA = `
local perMs = tonumber(ARGV[1]) / tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 't', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = burst
else
  tokens = math.min(burst, tokens + math.max(0, now - at) * perMs)
end
if tokens >= 1 then
  redis.call('HSET', KEYS[1], 't', string.format('%.17g', tokens - 1), 'at', now)
  redis.call('PEXPIRE', KEYS[1], math.ceil(burst / perMs))
  return {1, string.format('%.17g', tokens)}
end
return {0, string.format('%.17g', tokens)}
`;
