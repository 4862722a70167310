-- wrk script: GET /api/v1/assign for a running canary, a different key on every
-- request. Usage: see bench/http.sh
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", string.format("/api/v1/assign?service=bench-agent&environment=prod&key=customer-%d", n % 100000))
end
