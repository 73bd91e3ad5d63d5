-- wrk script for R6: every request is one learner pressing "enroll" on one of the popular courses.
-- Arguments: the sessions file (one "cookie<TAB>csrf token<TAB>learner id" line per learner), the path
-- pattern with %d for the course id, the first request number (so rounds do not repeat pairs), how the
-- learner is named ("session": signed in, with the CSRF token, as a browser does; "field": no cookie, the
-- learner id in the form field "learner", for bench/wsgi.py's write floor), then the course ids.
-- Request n goes to course n mod #courses for learner floor(n / #courses): each pair is asked once.
-- Prints status counts and latency percentiles as key=value lines for the harness; BENCH_SERVERS spreads
-- the threads over several app servers (spread.lua).

dofile("bench/spread.lua")
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
  spread(thread)
end

function init(args)
  sessions = {}
  for line in io.lines(args[1]) do
    local cookie, token, id = line:match("^([^\t]+)\t([^\t]+)\t(%d+)$")
    table.insert(sessions, {cookie = cookie, token = token, id = id})
  end
  pattern = args[2]
  counter = tonumber(args[3]) + tid
  by_field = args[4] == "field"
  courses = {}
  for i = 5, #args do table.insert(courses, tonumber(args[i])) end
  s2, s3, s4, s5 = 0, 0, 0, 0
end

function request()
  local n = counter
  counter = counter + 2  -- two threads interleave the request numbers
  local course = courses[(n % #courses) + 1]
  local learner = sessions[(math.floor(n / #courses) % #sessions) + 1]
  if by_field then
    return wrk.format("POST", string.format(pattern, course), {
      ["Content-Type"] = "application/x-www-form-urlencoded",
    }, "learner=" .. learner.id)
  end
  return wrk.format("POST", string.format(pattern, course), {
    ["Cookie"] = "session=" .. learner.cookie,
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }, "csrf_token=" .. learner.token)
end

function response(status, headers, body)
  if status >= 500 then s5 = s5 + 1
  elseif status >= 400 then s4 = s4 + 1
  elseif status >= 300 then s3 = s3 + 1
  else s2 = s2 + 1 end
end

function done(summary, latency, requests)
  local t2, t3, t4, t5 = 0, 0, 0, 0
  for _, thread in ipairs(threads) do
    t2 = t2 + thread:get("s2"); t3 = t3 + thread:get("s3")
    t4 = t4 + thread:get("s4"); t5 = t5 + thread:get("s5")
  end
  io.write(string.format("status_2xx=%d\nstatus_3xx=%d\nstatus_4xx=%d\nstatus_5xx=%d\n", t2, t3, t4, t5))
  percentiles(latency)
end
