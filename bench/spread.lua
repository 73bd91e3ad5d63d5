-- Shared by the wrk scripts of the benchmark (loaded with dofile from the project's root).
--
-- spread(thread): with BENCH_SERVERS set ("127.0.0.1:8001,127.0.0.1:8002"), wrk's threads are spread over
-- those app servers, thread k talking to server k mod n, as a load balancer would spread connections; one
-- wrk run then measures the servers together, with one latency distribution.
-- percentiles(latency): the 50th, 95th and 99th percentile latencies in microseconds, as key=value lines.

local spread_next = 0

function spread(thread)
  local list = os.getenv("BENCH_SERVERS")
  if list and list ~= "" then
    local servers = {}
    for host, port in list:gmatch("([^,:]+):(%d+)") do
      table.insert(servers, wrk.lookup(host, port)[1])
    end
    thread.addr = servers[(spread_next % #servers) + 1]
  end
  spread_next = spread_next + 1
end

function percentiles(latency)
  io.write(string.format("p50_us=%d\np95_us=%d\np99_us=%d\n", latency:percentile(50), latency:percentile(95),
                         latency:percentile(99)))
end
