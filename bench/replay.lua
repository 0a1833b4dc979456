-- wrk script: replays pre-signed webhook deliveries from a file, each thread its own share.
-- File format, one delivery per line: <path>\t<header:value|header:value...>\t<body>
local requests = {}
local counter = 0
local thread_id, threads = 0, 1

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end

function init(args)
  thread_id = tonumber(tid) or 0
  threads = tonumber(args[2]) or 1
  for line in io.lines(args[1]) do
    local path, headers, body = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
    local h = {}
    for pair in headers:gmatch("[^|]+") do
      local k, v = pair:match("^([^:]+):(.*)$")
      h[k] = v
    end
    requests[#requests + 1] = wrk.format("POST", path, h, body)
  end
  index = thread_id
end

function request()
  local r = requests[(index % #requests) + 1]
  index = index + threads
  return r
end
