-- wrk script for the December rush: signed-in learners browsing, enrolling and declaring at once, on one or
-- several app servers (BENCH_SERVERS, spread.lua). Arguments: the sessions file (one "cookie<TAB>csrf token"
-- line per learner), the evidence file (a small PNG), the declaration's kind, category and date, then the
-- ids of the courses of the rush.
--
-- Request n belongs to learner floor(n / 20) and does, by n mod 20: 0-7 the catalog, 8-9 a search, 10-12 a
-- course's page, 13-15 the learner's dashboard, 16-18 enroll in a course (each learner asks for three
-- different courses once), 19 declare hours with the evidence. Prints the requests sent and the answers
-- by kind as key=value lines, with the latency percentiles.

dofile("bench/spread.lua")
local threads = {}
THREADS = tonumber(os.getenv("BENCH_THREADS"))  -- wrk's -t: the threads interleave the request numbers

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
  spread(thread)
end

local BOUNDARY = "----jidi-bench-december"

function init(args)
  sessions = {}
  for line in io.lines(args[1]) do
    local cookie, token = line:match("^([^\t]+)\t([^\t]+)")
    table.insert(sessions, {cookie = cookie, token = token})
  end
  local file = io.open(args[2], "rb")
  evidence = file:read("*a")
  file:close()
  kind, category, earned_on = args[3], args[4], args[5]
  courses = {}
  for i = 6, #args do table.insert(courses, tonumber(args[i])) end
  counter = tid
  sent_enroll, sent_declare, s5, s4, enrolled, declared, other3 = 0, 0, 0, 0, 0, 0, 0
end

local function declaration_body(token, n)
  local parts = {}
  local fields = {csrf_token = token, kind = kind, category = category, title = "十二月自学" .. n,
                  organiser = "", earned_on = earned_on, hours = "2"}
  for name, value in pairs(fields) do
    table.insert(parts, "--" .. BOUNDARY .. "\r\nContent-Disposition: form-data; name=\"" .. name .. "\"\r\n\r\n"
                 .. value .. "\r\n")
  end
  table.insert(parts, "--" .. BOUNDARY .. "\r\nContent-Disposition: form-data; name=\"files\"; "
               .. "filename=\"evidence.png\"\r\nContent-Type: image/png\r\n\r\n" .. evidence .. "\r\n")
  table.insert(parts, "--" .. BOUNDARY .. "--\r\n")
  return table.concat(parts)
end

function request()
  local n = counter
  counter = counter + THREADS
  local block, step = math.floor(n / 20), n % 20
  local learner = sessions[(block % #sessions) + 1]
  local cookie = {["Cookie"] = "session=" .. learner.cookie}
  if step < 8 then
    return wrk.format("GET", "/courses", cookie)
  elseif step < 10 then
    return wrk.format("GET", "/courses?q=%E6%8A%A4%E7%90%86", cookie)
  elseif step < 13 then
    return wrk.format("GET", "/courses/" .. courses[(n % #courses) + 1], cookie)
  elseif step < 16 then
    return wrk.format("GET", "/me/", cookie)
  elseif step < 19 then
    sent_enroll = sent_enroll + 1
    local course = courses[((block * 3 + step - 16) % #courses) + 1]
    cookie["Content-Type"] = "application/x-www-form-urlencoded"
    return wrk.format("POST", "/me/courses/" .. course .. "/enroll", cookie, "csrf_token=" .. learner.token)
  end
  sent_declare = sent_declare + 1
  cookie["Content-Type"] = "multipart/form-data; boundary=" .. BOUNDARY
  return wrk.format("POST", "/me/declarations/new", cookie, declaration_body(learner.token, n))
end

function response(status, headers, body)
  if status >= 500 then s5 = s5 + 1
  elseif status >= 400 then s4 = s4 + 1
  elseif status >= 300 then
    local location = headers["Location"] or headers["location"] or ""
    if location:find("/me/declarations", 1, true) then declared = declared + 1
    elseif location:find("/courses/", 1, true) then enrolled = enrolled + 1
    else other3 = other3 + 1 end
  end
end

function done(summary, latency, requests)
  local totals = {sent_enroll = 0, sent_declare = 0, s5 = 0, s4 = 0, enrolled = 0, declared = 0, other3 = 0}
  for _, thread in ipairs(threads) do
    for name, _ in pairs(totals) do totals[name] = totals[name] + thread:get(name) end
  end
  for name, value in pairs(totals) do io.write(string.format("%s=%d\n", name, value)) end
  percentiles(latency)
end
