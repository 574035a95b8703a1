-- The lobby POST as a browser makes it: every request a new guest who opened the lobby first.
-- Each line of the sessions file (prepared by the harness, one lobby GET each) is the Cookie
-- header that GET gave — the session with the browser's device id and CSRF token — a tab, and
-- the token; each line is used once. Arguments: sessions file, number of wrk threads, label for
-- the emails. Counts statuses, and sessions used twice ("reused": the harness made too few).
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")

local sessions, next_session = {}, 1
local counter = 0
local label = "run"
statuses = {}
reused = 0

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function init(args)
  local path, threads = args[1], tonumber(args[2] or "1")
  label = args[3] or "run"
  -- this thread's share of the file: lines i with i % threads == id, so no two threads share
  local i = 0
  for line in io.lines(path) do
    if i % threads == id then
      local cookie, csrf = line:match("^([^\t]*)\t(.*)$")
      table.insert(sessions, {cookie = cookie, csrf = csrf})
    end
    i = i + 1
  end
end

function request()
  counter = counter + 1
  local session = sessions[next_session]
  next_session = next_session + 1
  if next_session > #sessions then
    next_session = 1
  end
  if counter > #sessions then
    reused = reused + 1
  end
  local who = string.format("%s-%s-%d", label, tostring(id), counter)
  local body = "csrf_token=" .. urlencode(session.csrf) .. "&name=" .. urlencode("Guest " .. who) ..
               "&email=" .. urlencode(who .. "@guest.example")
  -- wrk.format uses the headers given instead of wrk.headers: copy them (User-Agent and
  -- Connection from the command line) and add this browser's cookie.
  local headers = {}
  for k, v in pairs(wrk.headers) do headers[k] = v end
  headers["Content-Type"] = "application/x-www-form-urlencoded"
  headers["Cookie"] = session.cookie
  return wrk.format("POST", nil, headers, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
