-- The shared EC2 budget: token buckets that mirror EC2's per-account buckets, kept in Redis
-- so that every replica of the gateway draws on the same ones. Time is Redis' own (TIME),
-- never a replica's clock; Redis >= 5 replicates a script's effects, so TIME before a write
-- is allowed. A bucket is a hash: t (tokens; below zero, the slots already promised), u (when
-- t was brought up to date, in seconds), f (the refill factor, below 1 after throttling).
--
-- ARGV[1] names the operation:
--
-- reserve    KEYS: request bucket, instance bucket
--            ARGV: op, request capacity, request refill/s, instance capacity, instance
--                  refill/s, instances, slots wanted, most wait (s; negative: no limit),
--                  lease horizon (s), spare tokens
--            Takes one request token (and `instances` instance tokens) together, or nothing.
--            Answers {granted, wait_us, tokens_before, rate}: granted 0 means refused (the
--            slot would come after the caller's deadline) and wait_us says when it opens;
--            else granted request slots (1, or more: a lease of the slots that come within
--            the horizon), the first after wait_us; slot i (1-based) is ready
--            (i - tokens_before + spare) / rate seconds from now.
-- throttled  KEYS: request bucket. ARGV: op, request capacity, request refill/s
--            EC2 throttled a call: halve the bucket's refill (down to 10%) and drop what is
--            left. Answers the refill now.
-- heartbeat  KEYS: the replicas' sorted set. ARGV: op, replica id, time to live (ms)
--            Marks the replica alive and answers how many are.

local RECOVERY_PER_SEC = 0.01
local MIN_FACTOR = 0.1

local function now_seconds()
  local time = redis.call('TIME')
  return tonumber(time[1]) + tonumber(time[2]) / 1000000
end

-- The bucket at `key` brought up to `now`: its tokens and refill factor.
local function load(key, capacity, refill, now)
  local state = redis.call('HMGET', key, 't', 'u', 'f')
  local tokens = tonumber(state[1]) or capacity
  local updated = tonumber(state[2]) or now
  local factor = tonumber(state[3]) or 1
  local elapsed = math.max(0, now - updated)
  tokens = math.min(capacity, tokens + elapsed * refill * factor)
  factor = math.min(1, factor + elapsed * RECOVERY_PER_SEC)
  return tokens, factor
end

-- Stores the bucket; it expires once it would be full and recovered again, which is the
-- same as no key.
local function store(key, tokens, factor, now, capacity, refill)
  redis.call('HSET', key, 't', tostring(tokens), 'u', tostring(now), 'f', tostring(factor))
  local refilled = (capacity - tokens) / (refill * factor)
  local recovered = (1 - factor) / RECOVERY_PER_SEC
  redis.call('EXPIRE', key, math.ceil(math.max(refilled, recovered)) + 60)
end

local op = ARGV[1]

if op == 'reserve' then
  local now = now_seconds()
  local request_capacity, request_refill = tonumber(ARGV[2]), tonumber(ARGV[3])
  local instance_capacity, instance_refill = tonumber(ARGV[4]), tonumber(ARGV[5])
  local instances = tonumber(ARGV[6])
  local wanted = tonumber(ARGV[7])
  local most_wait = tonumber(ARGV[8])
  local horizon = tonumber(ARGV[9])
  local spare = tonumber(ARGV[10])

  local tokens, factor = load(KEYS[1], request_capacity, request_refill, now)
  local rate = request_refill * factor
  -- Every slot keeps `spare` tokens in hand (the replicas' calls reach EC2 with different
  -- delays), the last of the burst included.
  local wait = math.max(0, (1 - tokens + spare) / rate)
  local instance_tokens, instance_factor
  if instances > 0 then
    instance_tokens, instance_factor = load(KEYS[2], instance_capacity, instance_refill, now)
    -- A call larger than the whole bucket waits only for a full bucket.
    local needed = math.min(instances, instance_capacity)
    if instance_tokens < needed then
      wait = math.max(wait, (needed - instance_tokens + spare) / (instance_refill * instance_factor))
    end
  end
  if most_wait >= 0 and wait > most_wait then
    return {0, math.ceil(wait * 1000000), tostring(tokens), tostring(rate)}
  end

  -- A lease: more slots for calls of request tokens only, those ready within the horizon
  -- after the first, and never from a bucket near full (slots taken from a full bucket and
  -- spent late could outrun EC2's own bucket, which stops filling at its capacity).
  local granted = 1
  if instances == 0 and wanted > 1 and tokens <= request_capacity - wanted then
    local within = math.floor(tokens - spare + rate * (wait + horizon))
    granted = math.max(1, math.min(wanted, within))
  end
  store(KEYS[1], tokens - granted, factor, now, request_capacity, request_refill)
  if instances > 0 then
    store(KEYS[2], instance_tokens - instances, instance_factor, now, instance_capacity,
      instance_refill)
  end
  return {granted, math.ceil(wait * 1000000), tostring(tokens), tostring(rate)}
end

if op == 'throttled' then
  local now = now_seconds()
  local capacity, refill = tonumber(ARGV[2]), tonumber(ARGV[3])
  local tokens, factor = load(KEYS[1], capacity, refill, now)
  factor = math.max(MIN_FACTOR, factor * 0.5)
  store(KEYS[1], math.min(tokens, 0), factor, now, capacity, refill)
  return tostring(refill * factor)
end

if op == 'heartbeat' then
  local time = redis.call('TIME')
  local now_ms = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
  local ttl = tonumber(ARGV[3])
  redis.call('ZADD', KEYS[1], now_ms, ARGV[2])
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms - ttl)
  redis.call('PEXPIRE', KEYS[1], ttl * 2)
  return redis.call('ZCARD', KEYS[1])
end

return redis.error_reply('unknown operation ' .. tostring(op))
