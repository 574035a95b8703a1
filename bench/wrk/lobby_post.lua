-- The lobby POST: every request a new guest. The session cookie (given with -H) carries only a
-- CSRF token, no device id, so each request gets a fresh device, and each email is new.
-- Arguments: csrf token, label for the emails. Counts statuses per thread for the report.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")

local counter = 0
local csrf, label = "", "run"
statuses = {}

function init(args)
  csrf = args[1] or ""
  label = args[2] or "run"
  -- wrk.format replaces wrk.headers when given headers: add ours to them instead, so the
  -- Cookie and User-Agent given with -H stay.
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function request()
  counter = counter + 1
  local who = string.format("%s-%s-%d", label, tostring(id), counter)
  local body = "csrf_token=" .. urlencode(csrf) .. "&name=" .. urlencode("Guest " .. who) ..
               "&email=" .. urlencode(who .. "@guest.example")
  return wrk.format("POST", nil, nil, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
