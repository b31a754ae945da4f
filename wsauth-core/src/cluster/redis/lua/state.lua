-- KEYS[1] instance meta hash; KEYS[2] instance stream
-- ARGV[1] fresh epoch; ARGV[2] meta ttl s; ARGV[3] since epoch ('' = none);
-- ARGV[4] since offset; ARGV[5] history ttl s
-- -> {epoch, last, recovered (-1 not asked, 0 lost, 1 ok), {offset, message, ...}}
local meta = redis.call('HMGET', KEYS[1], 'e', 's')
local epoch, last = meta[1], tonumber(meta[2] or '0')
if not epoch then
  epoch = ARGV[1]
  last = 0
  redis.call('HSET', KEYS[1], 'e', epoch, 's', 0)
  redis.call('DEL', KEYS[2])
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
if ARGV[3] == '' then
  return {epoch, last, -1, {}}
end
local since = tonumber(ARGV[4])
if ARGV[3] ~= epoch or since > last then
  return {epoch, last, 0, {}}
end
if since == last then
  return {epoch, last, 1, {}}
end
local entries = redis.call('XRANGE', KEYS[2], (since + 1) .. '-0', '+')
if #entries == 0 or entries[1][1] ~= (since + 1) .. '-0' then
  return {epoch, last, 0, {}}
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[5]) * 1000
local out = {}
for _, entry in ipairs(entries) do
  local fields, at, message = entry[2], nil, nil
  for i = 1, #fields, 2 do
    if fields[i] == 't' then at = tonumber(fields[i + 1]) end
    if fields[i] == 'm' then message = fields[i + 1] end
  end
  -- The oldest one needed is past the history's ttl: the rest cannot be
  -- recovered without it.
  if #out == 0 and at + ttl <= now then
    return {epoch, last, 0, {}}
  end
  out[#out + 1] = tostring(tonumber((string.gsub(entry[1], '-0$', ''))))
  out[#out + 1] = message
end
return {epoch, last, 1, out}
