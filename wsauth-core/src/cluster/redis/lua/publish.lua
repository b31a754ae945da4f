-- KEYS[1] instance meta hash; KEYS[2] instance stream
-- ARGV[1] message JSON; ARGV[2] history size (0 = none); ARGV[3] history ttl s;
-- ARGV[4] meta ttl s; ARGV[5] fresh epoch; ARGV[6] instance channel
-- -> {offset, epoch}
local epoch = redis.call('HGET', KEYS[1], 'e')
if not epoch then
  epoch = ARGV[5]
  redis.call('HSET', KEYS[1], 'e', epoch)
  -- A stream from an earlier life would refuse offset 1.
  redis.call('DEL', KEYS[2])
end
local offset = redis.call('HINCRBY', KEYS[1], 's', 1)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
local size = tonumber(ARGV[2])
if size > 0 then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  redis.call('XADD', KEYS[2], 'MAXLEN', size, offset .. '-0', 't', now, 'm', ARGV[1])
  redis.call('EXPIRE', KEYS[2], tonumber(ARGV[3]))
end
redis.call('PUBLISH', ARGV[6], 'p:' .. offset .. ':' .. epoch .. ':' .. ARGV[1])
return {offset, epoch}
