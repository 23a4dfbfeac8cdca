-- wrk script: each thread replays its own file of pre-signed, distinct Stripe deliveries.
-- Line format: <Stripe-Signature header>\t<body>. Past the end it starts again (duplicates).
local counter = 0
local threads = {}

function setup(thread)
  thread:set("index", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local prefix = args[1]
  requests = {}
  for line in io.lines(prefix .. "." .. index .. ".txt") do
    local tab = line:find("\t", 1, true)
    local headers = {
      ["Content-Type"] = "application/json; charset=utf-8",
      ["Stripe-Signature"] = line:sub(1, tab - 1),
    }
    table.insert(requests, wrk.format("POST", "/webhooks/stripe", headers, line:sub(tab + 1)))
  end
  position = 0
end

function request()
  position = position % #requests + 1
  return requests[position]
end
