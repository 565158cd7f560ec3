-- wrk script: one static request, the first credential of $CREDS, sent with
-- wrk's fast path (no Lua per request). bench/load.sh runs it once against
-- /bench/fixed to show the load generator's own ceiling: if it is close to
-- the rotating script's figure on the same endpoint, the generator is not
-- what limits the measurements.
--
-- done() prints the same RESULT line as token.lua.

local creds_path = os.getenv("CREDS") or "creds.txt"
local body = os.getenv("BODY") or "grant_type=client_credentials&scope=analysis%3Aread"

local f = assert(io.open(creds_path, "r"), "cannot open CREDS=" .. creds_path)
local id, secret = f:read("*l"):match("^(%S+)%s+(%S+)")
f:close()

local b64chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local c1 = math.floor(n / 262144) % 64
    local c2 = math.floor(n / 4096) % 64
    local c3 = math.floor(n / 64) % 64
    local c4 = n % 64
    out[#out + 1] = b64chars:sub(c1 + 1, c1 + 1) .. b64chars:sub(c2 + 1, c2 + 1)
      .. (b and b64chars:sub(c3 + 1, c3 + 1) or "=") .. (c and b64chars:sub(c4 + 1, c4 + 1) or "=")
  end
  return table.concat(out)
end

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic " .. base64(id .. ":" .. secret)

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d rps=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d non2xx=%d errors=%d\n",
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.status, e.connect + e.read + e.write + e.timeout))
end
