-- A plain GET (the URL, Cookie and User-Agent come from the command line), with the report.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")
