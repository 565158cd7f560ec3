-- wrk script: POST token requests (client_secret_basic, a form body asking
-- for one scope), rotating over the credentials in $CREDS, one
-- "client_id secret" per line as written by `authz bench-seed --creds-file`.
-- Each thread starts at its own offset. bench/load.sh sends these same
-- requests to the reference endpoints, so the load generator does the same
-- work for every endpoint.
--
-- With REQUESTS set, it sends instead requests that can be used only once
-- (client assertions, DPoP proofs), as written by `authz bench-requests
-- --out $REQUESTS --split <threads>`: thread k reads $REQUESTS.k, one line
-- per request ("body<TAB>authorization<TAB>dpop", the last two empty when
-- not sent), and sends each line once. A thread that runs out stops and
-- counts it in "exhausted": it never sends a request twice (the server
-- would refuse the replay anyway).
--
-- done() prints one machine-readable line:
--   RESULT requests=N duration_us=N rps=F p50_us=N p90_us=N p99_us=N max_us=N non2xx=N errors=N exhausted=N

local creds_path = os.getenv("CREDS") or "creds.txt"
local requests_path = os.getenv("REQUESTS") or ""
local body = os.getenv("BODY") or "grant_type=client_credentials&scope=analysis%3Aread"

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

local function load_creds()
  local list = {}
  local f = assert(io.open(creds_path, "r"), "cannot open CREDS=" .. creds_path)
  for line in f:lines() do
    local id, secret = line:match("^(%S+)%s+(%S+)")
    if id then list[#list + 1] = { id = id, secret = secret } end
  end
  f:close()
  assert(#list > 0, "no credentials in " .. creds_path)
  return list
end

local counter = 0
local threads = {}
function setup(thread)
  thread:set("thread_id", counter)
  counter = counter + 1
  threads[#threads + 1] = thread
end

exhausted = 0
local file
local last

-- The next line of this thread's file, formatted, read as it is sent: the
-- files are larger than is worth holding in memory, and reading them in
-- init() would delay the other threads' start while this one runs.
local function next_signed()
  local line = file:read("*l")
  if not line then
    exhausted = exhausted + 1
    wrk.thread:stop()
    return last
  end
  local body, auth, dpop = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)$")
  assert(body, "malformed line in " .. requests_path)
  local headers = {
    ["Host"] = wrk.headers["Host"],
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }
  if auth ~= "" then headers["Authorization"] = auth end
  if dpop ~= "" then headers["DPoP"] = dpop end
  last = wrk.format("POST", wrk.path, headers, body)
  return last
end

local reqs = {}
local i = 0
function init(args)
  if requests_path ~= "" then
    local name = requests_path .. "." .. (thread_id or 0)
    file = assert(io.open(name, "r"), "cannot open " .. name)
    request = next_signed
    return
  end
  for _, c in ipairs(load_creds()) do
    reqs[#reqs + 1] = wrk.format("POST", wrk.path, {
      ["Host"] = wrk.headers["Host"],
      ["Content-Type"] = "application/x-www-form-urlencoded",
      ["Authorization"] = "Basic " .. base64(c.id .. ":" .. c.secret),
    }, body)
  end
  i = ((thread_id or 0) * 7919) % #reqs
end

function request()
  i = i % #reqs + 1
  return reqs[i]
end

function done(summary, latency, requests)
  local e = summary.errors
  local ex = 0
  for _, t in ipairs(threads) do ex = ex + t:get("exhausted") end
  io.write(string.format(
    "RESULT requests=%d duration_us=%d rps=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d non2xx=%d errors=%d exhausted=%d\n",
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.status, e.connect + e.read + e.write + e.timeout, ex))
end
