-- wrk script: OFREP single-flag evaluation with a different targeting key on
-- every request. Usage: wrk -s bench/ofrep.lua http://127.0.0.1:8080 (see bench/http.sh)
local n = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  n = n + 1
  local body = string.format('{"context": {"targetingKey": "user-%d", "tier": "gold"}}', n % 100000)
  return wrk.format("POST", "/ofrep/v1/evaluate/flags/new-planner", nil, body)
end
