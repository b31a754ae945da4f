-- KEYS[i] lease zset, ARGV[1] ttl ms, ARGV[i+1] member; -> indexes of leases that had lapsed
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1])
local lapsed = {}
for i, key in ipairs(KEYS) do
  if redis.call('ZADD', key, now + ttl, ARGV[i + 1]) == 1 then lapsed[#lapsed + 1] = i end
  redis.call('PEXPIRE', key, ttl)
end
return lapsed
