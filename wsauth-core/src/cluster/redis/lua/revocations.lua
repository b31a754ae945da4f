-- KEYS[1] jti zset; KEYS[2] subject zset; ARGV[1] retention s -> {now, {jti, exp, ...}, {subject, T, ...}}
local now = tonumber(redis.call('TIME')[1])
return {now,
  redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf', 'WITHSCORES'),
  redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. (now - tonumber(ARGV[1])), '+inf', 'WITHSCORES')}
