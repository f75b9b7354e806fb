-- wrk script for scripts/bench.sh. Headers come from wrk's -H flags; the
-- rest from the environment:
--   BENCH_METHOD   request method (default GET)
--   BENCH_BODY     request body (static requests)
--   BENCH_TOKENS   file of access tokens, one a line: every request
--                  introspects the next one (body token=<t>&token_type_hint=
--                  access_token). Thread i of BENCH_THREADS takes every
--                  BENCH_THREADS-th line, starting at BENCH_SKIP of its own.
--   BENCH_REFRESH  file of refresh tokens, one a line: chains of the
--                  refresh_token grant. Each thread seeds a queue with its
--                  share of the file's first half (warm-up, BENCH_SKIP=0) or
--                  second half (the measured run), sends the oldest token
--                  and queues the new one from each answer: every token is
--                  used once, as rotation demands.
--   BENCH_EXPECT   text every response body must contain (e.g.
--                  "active":true); responses without it are counted as bad.
-- done() prints one line "BENCHJSON {...}" with the numbers bench.sh reads.

wrk.method = os.getenv("BENCH_METHOD") or "GET"
wrk.body = os.getenv("BENCH_BODY")

local tokens_file = os.getenv("BENCH_TOKENS")
local expect = os.getenv("BENCH_EXPECT")
local threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("tid", #threads)
end

if tokens_file then
   local reqs, n, i = {}, 0, 0

   function init(args)
      local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
      local skip = tonumber(os.getenv("BENCH_SKIP") or "0")
      -- Whole requests are built here, before the clock starts, so wrk's
      -- per-request work stays as small as for a static request.
      local function load(stride)
         local line = 0
         for tok in io.lines(tokens_file) do
            if line % stride == (tid - 1) % stride and tok ~= "" then
               n = n + 1
               reqs[n] = wrk.format(nil, nil, nil, "token=" .. tok .. "&token_type_hint=access_token")
            end
            line = line + 1
         end
      end
      load(nthreads)
      if n == 0 then
         load(1) -- fewer tokens than threads: every thread uses them all
      end
      if n == 0 then
         io.stderr:write("bench.lua: no tokens in " .. tokens_file .. "\n")
         os.exit(1)
      end
      i = skip % n
   end

   function request()
      i = i + 1
      if i > n then
         i = 1
      end
      return reqs[i]
   end
end

local refresh_file = os.getenv("BENCH_REFRESH")
if refresh_file then
   local queue, head, tail = {}, 1, 0

   function init(args)
      local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
      local second = tonumber(os.getenv("BENCH_SKIP") or "0") > 0
      local all = {}
      for tok in io.lines(refresh_file) do
         if tok ~= "" then all[#all + 1] = tok end
      end
      local half = math.floor(#all / 2)
      local from = second and half + 1 or 1
      for i = from, from + half - 1 do
         if (i - from) % nthreads == tid - 1 then
            tail = tail + 1
            queue[tail] = all[i]
         end
      end
   end

   function request()
      if head > tail then
         io.stderr:write("bench.lua: out of refresh tokens: seed more than there are connections\n")
         os.exit(1)
      end
      local tok = queue[head]
      queue[head] = nil
      head = head + 1
      return wrk.format(nil, nil, nil, "grant_type=refresh_token&refresh_token=" .. tok)
   end

   bad = 0
   function response(status, headers, body)
      local tok = string.match(body, '"refresh_token":"([^"]+)"')
      if tok then
         tail = tail + 1
         queue[tail] = tok
      elseif status < 300 then
         bad = bad + 1
      end
   end
end

if expect then
   bad = 0
   function response(status, headers, body)
      if status < 300 and not string.find(body, expect, 1, true) then
         bad = bad + 1
      end
   end
end

function done(summary, latency, requests)
   local bad_total = 0
   for _, t in ipairs(threads) do
      bad_total = bad_total + (t:get("bad") or 0)
   end
   local e = summary.errors
   io.write(string.format(
      'BENCHJSON {"requests":%.0f,"duration_us":%.0f,"bytes":%.0f,' ..
      '"p50_us":%.0f,"p90_us":%.0f,"p99_us":%.0f,"mean_us":%.1f,"max_us":%.0f,' ..
      '"status_errors":%.0f,"timeouts":%.0f,"connect_errors":%.0f,"read_errors":%.0f,"write_errors":%.0f,' ..
      '"bad_responses":%.0f,"checked":%s}\n',
      summary.requests, summary.duration, summary.bytes,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max,
      e.status, e.timeout, e.connect, e.read, e.write,
      bad_total, expect and "true" or "false"))
end
