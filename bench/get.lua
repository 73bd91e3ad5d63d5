-- wrk script for a plain GET measured on one or several app servers (see spread.lua).
dofile("bench/spread.lua")

function setup(thread)
  spread(thread)
end

function done(summary, latency, requests)
  percentiles(latency)
end
