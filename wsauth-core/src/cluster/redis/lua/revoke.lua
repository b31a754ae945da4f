-- KEYS[1] zset jti -> exp s; KEYS[2] zset subject -> not-before s
-- ARGV[1] jti|subject|disconnect; ARGV[2] the jti or subject; ARGV[3] token exp s (0 unknown)
-- ARGV[4] retention s (longest token life); ARGV[5] control channel  -> Redis time (s)
local now = tonumber(redis.call('TIME')[1])
local keep = tonumber(ARGV[4])
if ARGV[1] == 'jti' then
  local exp = tonumber(ARGV[3])
  if exp == 0 or exp > now + keep then exp = now + keep end
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  redis.call('ZADD', KEYS[1], 'GT', exp, ARGV[2])
  redis.call('PUBLISH', ARGV[5], 'rj:' .. exp .. ':' .. ARGV[2])
elseif ARGV[1] == 'subject' then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - keep)
  redis.call('ZADD', KEYS[2], 'GT', now, ARGV[2])
  redis.call('PUBLISH', ARGV[5], 'rs:' .. now .. ':' .. ARGV[2])
else
  redis.call('PUBLISH', ARGV[5], 'ds:' .. ARGV[2])
end
return now
