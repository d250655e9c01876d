-- wrk script for bench/webhooks.py: POSTs the same signed body on every request, each
-- with a unique X-GitHub-Delivery ("<run prefix>-<thread>-<counter>"), so a server that
-- dedupes deliveries never short-circuits.
--
-- wrk -s wrk_signed.lua URL -- BODY_FILE SIGNATURE EVENT RUN_PREFIX
--   SIGNATURE is the full X-Hub-Signature-256 value ("sha256=<hex>").
-- On exit it prints one line "prbot-bench sent=<n>": how many requests the threads
-- built (answered ones plus those still in flight when wrk stopped).

local threads = {}

function setup(thread)
  thread:set("thread_id", #threads + 1)
  table.insert(threads, thread)
end

local body, signature, event, prefix
sent = 0

function init(args)
  local f = assert(io.open(args[1], "rb"))
  body = f:read("*a")
  f:close()
  signature = args[2]
  event = args[3]
  prefix = args[4] .. "-" .. tostring(thread_id) .. "-"
end

function request()
  sent = sent + 1
  local headers = {
    ["Content-Type"] = "application/json",
    ["User-Agent"] = "GitHub-Hookshot/prbot-bench",
    ["X-GitHub-Event"] = event,
    ["X-GitHub-Delivery"] = prefix .. tostring(sent),
    ["X-Hub-Signature-256"] = signature,
  }
  return wrk.format("POST", nil, headers, body)
end

function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do
    total = total + t:get("sent")
  end
  io.write(string.format("prbot-bench sent=%d\n", total))
end
