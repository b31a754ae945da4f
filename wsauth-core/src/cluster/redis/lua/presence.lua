-- KEYS[1] instance presence zset (member "<node>\31<subject>" -> expires-at ms);
-- KEYS[2] instance presence hash (subject -> live members)
-- ARGV[1] op 'sync' | 'query'; ARGV[2] node; ARGV[3] ttl ms; ARGV[4] instance channel;
-- ARGV[5..] sync: every subject present on the node
-- -> the subjects present on any node (unsorted)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local sep = '\31'
local function subject_of(member)
  return string.sub(member, string.find(member, sep, 1, true) + 1)
end
local function gone(member)
  redis.call('ZREM', KEYS[1], member)
  local subject = subject_of(member)
  if redis.call('HINCRBY', KEYS[2], subject, -1) <= 0 then
    redis.call('HDEL', KEYS[2], subject)
    redis.call('PUBLISH', ARGV[4], 'l:' .. subject)
  end
end
-- Members of nodes that stopped renewing (a dead node's subjects leave).
for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)) do
  gone(member)
end
if ARGV[1] == 'sync' then
  local ttl = tonumber(ARGV[3])
  local prefix = ARGV[2] .. sep
  local wanted = {}
  for i = 5, #ARGV do
    wanted[ARGV[i]] = true
  end
  for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
    if string.sub(member, 1, #prefix) == prefix and not wanted[subject_of(member)] then
      gone(member)
    end
  end
  for i = 5, #ARGV do
    if redis.call('ZADD', KEYS[1], now + ttl, prefix .. ARGV[i]) == 1
        and redis.call('HINCRBY', KEYS[2], ARGV[i], 1) == 1 then
      redis.call('PUBLISH', ARGV[4], 'j:' .. ARGV[i])
    end
  end
  if #ARGV >= 5 then
    redis.call('PEXPIRE', KEYS[1], ttl)
    redis.call('PEXPIRE', KEYS[2], ttl)
  end
end
return redis.call('HKEYS', KEYS[2])
