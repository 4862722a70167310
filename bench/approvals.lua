-- wrk script: Tier 0 approval requests (answered "approved" at once, audited
-- durably), each with its own idempotency key. Usage: see bench/http.sh
local n = 0
local thread_id = 0
local counter = 0
setup = function(thread)
  counter = counter + 1
  thread:set("tid", counter)
end
init = function(args)
  thread_id = tid or 0
end
request = function()
  n = n + 1
  local body = string.format('{"service": "bench-agent", "environment": "prod", "action": "lookup_vendor", ' ..
    '"context": {"confidence": 0.99, "in_policy": true}, "idempotency_key": "bench-%d-%d-%d"}', thread_id, os.time(), n)
  return wrk.format("POST", "/api/v1/approvals", {["Content-Type"] = "application/json"}, body)
end
