--[[
mssipae_logs.lua - Wireshark 4.0 file reader: open Lync / Skype for Business client UccApi logs
(Lync-UccApi-0.UccApilog) and server SIPStack text traces directly (tshark -r LOG, File > Open).

Part of mssipae (installed next to mssipae.so). Detection is by content: the first 200 lines
must hold a UccApi trace line ("MM/DD/YYYY|HH:MM:SS.mmm PID:TID LEVEL :: ...") or a SIPStack
record line ("TL_...(TF_...) [...]PID.TID::MM/DD/YYYY-HH:MM:SS.mmm...").

Each SIP message becomes one frame of the exported-PDU link type handed to the "sip" dissector,
with the log's time stamp (taken as UTC), IP/port tags from the log (names and absent addresses
become synthetic 198.18.x.y addresses, as in mssipae-log2pcap) and a frame comment with the
block's line numbers and any problem found. The rules are those of logs/lynclog.c (see that file
and the README); mssipae-log2pcap is the reference implementation and also merges several logs
and prints line-numbered problem reports. This reader only marks problems in frame comments;
a block without a SIP start line gives no frame here (the converter reports it).
--]]

local SIPSTACK_LOCAL, SIPSTACK_LOCAL_PORT = "sipstack-local", 5061
local UCCAPI_LOCAL, UCCAPI_LOCAL_PORT = "uccapi-local", 0
local UNKNOWN_PEER = "unknown-peer"
local MAX_MSG = 16 * 1024 * 1024 - 8

local fh = FileHandler.new("Lync/SfB client and server logs (mssipae)", "mssipae_lynclog",
    "Lync / Skype for Business UccApi client logs and SIPStack server text traces", "rs")

---------------------------------------------------------------- small helpers

local function u16(n) return string.char(math.floor(n / 256) % 256, n % 256) end
local function u32(n)
    return string.char(math.floor(n / 16777216) % 256, math.floor(n / 65536) % 256,
                       math.floor(n / 256) % 256, n % 256)
end
local function tlv(tag, value) return u16(tag) .. u16(#value) .. value end

local mdays = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }
local function utc_seconds(y, mo, d, h, mi, s)
    if y < 1970 or mo < 1 or mo > 12 or d < 1 or d > mdays[mo] or h > 23 or mi > 59 or s > 60 then
        return nil
    end
    local yy = y - ((mo <= 2) and 1 or 0)
    local era = math.floor(yy / 400)
    local yoe = yy - era * 400
    local doy = math.floor((153 * (mo + ((mo > 2) and -3 or 9)) + 2) / 5) + d - 1
    local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
    return (era * 146097 + doe - 719468) * 86400 + h * 3600 + mi * 60 + s
end

local function datetime(s, sep)
    local mo, d, y, h, mi, se, ms = s:match("^(%d%d)/(%d%d)/(%d%d%d%d)" .. sep ..
                                            "(%d%d):(%d%d):(%d%d)%.(%d%d%d)")
    if not mo then return nil end
    local t = utc_seconds(tonumber(y), tonumber(mo), tonumber(d), tonumber(h), tonumber(mi),
                          tonumber(se))
    if not t then return nil end
    return t, tonumber(ms)
end

-- "host:port", "[v6]:port", "v6", "host" -> host, port (nil when bad)
local function endpoint(s)
    s = s:match("^%s*(.-)%s*$")
    if s == "" then return nil end
    local host, port
    if s:sub(1, 1) == "[" then
        host, port = s:match("^%[([^%]]*)%]:?(%d*)$")
    else
        local n = select(2, s:gsub(":", ""))
        if n == 1 then host, port = s:match("^([^:]*):(%d*)$")
        else host, port = s, "" end
    end
    if not host or host == "" or #host > 255 or host:find("[%s%(%)]") then return nil end
    if port == nil or (port == "" and s:sub(-1) == ":") then return nil end
    port = (port == "") and 0 or tonumber(port)
    if not port or port > 65535 then return nil end
    return host, port
end

local function ipv4(s)
    local a, b, c, d = s:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
    if not a then return nil end
    a, b, c, d = tonumber(a), tonumber(b), tonumber(c), tonumber(d)
    if a > 255 or b > 255 or c > 255 or d > 255 then return nil end
    return string.char(a, b, c, d)
end

local function ipv6(s)
    if not s:find(":") or s:find("[^%x:]") then return nil end
    local head, tail = s:match("^(.-)::(.*)$")
    local groups = {}
    local function split(part, out)
        if part == "" then return true end
        for g in (part .. ":"):gmatch("([^:]*):") do
            if g == "" or #g > 4 then return false end
            out[#out + 1] = tonumber(g, 16)
        end
        return true
    end
    if head then
        local h, t = {}, {}
        if not split(head, h) or not split(tail, t) or #h + #t > 7 then return nil end
        for _, v in ipairs(h) do groups[#groups + 1] = v end
        for _ = 1, 8 - #h - #t do groups[#groups + 1] = 0 end
        for _, v in ipairs(t) do groups[#groups + 1] = v end
    else
        if not split(s, groups) or #groups ~= 8 then return nil end
    end
    local out = {}
    for _, v in ipairs(groups) do out[#out + 1] = u16(v) end
    return table.concat(out)
end

-- FNV-1a 32 bits, as in log2pcap.c
local function fnv(s)
    local h = 2166136261
    for i = 1, #s do
        h = bit32.bxor(h, s:byte(i))
        h = (h * 403 + (h % 256) * 16777216) % 4294967296
    end
    return h
end

-- address bytes of a host text: the IP itself or a stable synthetic one per name
local function host_addr(st, host)
    local a = ipv4(host)
    if a then return a, false end
    a = ipv6(host)
    if a then return a, true end
    if st.names[host] then return st.names[host], false end
    local h = fnv(host)
    local k = 0
    while true do
        local v = (h + k) % 131072
        local lo = v % 256
        if lo ~= 0 and lo ~= 255 then
            a = string.char(198, 18 + math.floor(v / 65536), math.floor(v / 256) % 256, lo)
            if not st.used[a] then break end
        end
        k = k + 1
    end
    st.names[host], st.used[a] = a, true
    return a, false
end

---------------------------------------------------------------- the block parser

local function is_start_line(s)
    if s:sub(1, 8) == "SIP/2.0 " then return s:find("^SIP/2%.0 %d%d%d$") or s:find("^SIP/2%.0 %d%d%d ") end
    return s:find("^[%a%-]+ .+ SIP/2%.0$") ~= nil
end

local function is_header_line(s)
    return s:find("^[ \t]") ~= nil or s:find("^[!-9;-~]+[ \t]*:") ~= nil
end

local function content_length(s)
    local v = s:match("^[Cc][Oo][Nn][Tt][Ee][Nn][Tt]%-[Ll][Ee][Nn][Gg][Tt][Hh][ \t]*:[ \t]*(%d+)")
        or s:match("^[Ll][ \t]*:[ \t]*(%d+)")
    return v and tonumber(v) or nil
end

local function parse_ucc(line)
    local ts, thread, rest = line:match("^(%d%d/%d%d/%d%d%d%d|%d%d:%d%d:%d%d%.%d%d%d) +([%x:]+) +[^ :]+ +:: ?(.*)$")
    if not ts or not thread:find(":") or #thread > 31 then return nil end
    local sec, ms = datetime(ts, "|")
    if not sec then return nil end
    return sec, ms, thread, rest
end

local function parse_tl(line)
    if line:sub(1, 3) ~= "TL_" then return nil end
    local flag, after = line:match("^TL_[^(]*%(TF_([^)]*)%)(.*)$")
    if not flag then return nil end
    local d = after:match("::(%d%d/%d%d/%d%d%d%d%-%d%d:%d%d:%d%d%.%d%d%d)")
    if not d then return nil end
    local sec, ms = datetime(d, "%-")
    if not sec then return nil end
    local begin = line:find("%$%$begin_record%s*$") ~= nil
    return sec, ms, flag == "PROTOCOL", begin
end

local function ucc_addresses(s)
    local remote, loc, n
    s = s:gsub("^[ %-]+", "")
    local r = s:match("^([^ (]+)")
    if r and r:find(":") then
        local h, p = endpoint(r)
        if h then remote = { h, p } end
    end
    local l = s:match("%([^:)]*:([^)]*)%)")
    if l then
        local h, p = endpoint(l)
        if h then loc = { h, p } end
    end
    n = s:match("(%d+) bytes")
    return remote, loc, n and tonumber(n)
end

local function add_note(b, lineno, text)
    b.notes[#b.notes + 1] = "line " .. lineno .. ": " .. text
end

local function has_head_end(s) return s:find("\r\n\r\n", 1, true) end

-- turns block b into {data, notes...}
local function finish(b)
    local t
    if b.fmt == "SIPStack" then
        t = table.concat(b.lines) .. "\r\n" .. table.concat(b.body, "\r\n")
    else
        t = table.concat(b.lines, "\r\n")
    end
    local he = has_head_end(t)
    local t1 = t .. "\r\n"
    local he1 = has_head_end(t1)
    local function body_len(s, e) return #s - (e + 3) end
    local pick
    if b.cl then
        if he and body_len(t, he) == b.cl then pick = t
        elseif he1 and body_len(t1, he1) == b.cl then pick = t1 end
    end
    if not pick and b.logged then
        if #t == b.logged and he then pick = t
        elseif #t1 == b.logged and he1 then pick = t1 end
    end
    if not pick then
        if he then pick = t
        elseif he1 then pick = t1
        elseif b.fmt == "SIPStack" then pick = t
        else
            pick = t .. "\r\n\r\n"
            b.notes[#b.notes + 1] = "no blank line after the headers, added"
        end
    end
    local e = has_head_end(pick)
    if b.cl and e and body_len(pick, e) ~= b.cl and not b.truncated then
        add_note(b, b.line_last, "Content-Length " .. b.cl .. " but the body has " .. body_len(pick, e) .. " bytes")
    end
    if b.logged and #pick ~= b.logged then
        add_note(b, b.line_last, "logged size " .. b.logged .. " bytes, rebuilt " .. #pick)
    end
    b.data = pick
    return b
end

local function add(b, list, s)
    b.size = b.size + #s + 2
    if b.size > MAX_MSG then
        if not b.cut then
            b.cut, b.truncated = true, true
            add_note(b, b.line_last, "message longer than 16777216 bytes, cut")
        end
        return
    end
    list[#list + 1] = s
end

-- Reads the next message from the file's position; lineno is the number of the line there.
-- Returns the block (nil at the end) and the number of the next line to read.
local function next_message(file, lineno)
    local b, state = nil, "idle"
    local function open(fmt, sec, ms, pos)
        b = { fmt = fmt, sec = sec, ms = ms, pos = pos, line_first = lineno, line_last = lineno,
              lines = {}, body = {}, notes = {}, size = 0 }
    end
    local function cut_off(why, pos)
        -- a new block starts (or the file ends) before this one was closed
        if b and b.have_start then
            add_note(b, lineno, "truncated: " .. why)
            b.truncated = true
            if pos then file:seek("set", pos) end
            return finish(b)
        end
        b = nil
        return nil
    end
    while true do
        local pos = file:seek()
        local line = file:read()
        if not line then
            lineno = lineno - 1
            local m = cut_off("end of file inside the message block")
            return m, lineno + 1
        end
        line = line:gsub("\r$", "")
        if lineno == 1 and line:sub(1, 3) == "\239\187\191" then line = line:sub(4) end
        local sec, ms, thread, text = parse_ucc(line)
        local tsec, tms, protocol, begin
        if not sec then tsec, tms, protocol, begin = parse_tl(line) end
        if sec then
            local kind = text:find("^Sending Packet") and "send" or text:find("^Data Received") and "recv"
                         or text:find("^End of") and "end" or "other"
            if kind == "send" or kind == "recv" then
                if b then
                    local m = cut_off(state:find("^ss") and "a UccApi line starts inside a SIPStack record"
                                      or "a new message block starts before its End line", pos)
                    if m then return m, lineno end
                end
                open("UccApi", sec, ms, pos)
                b.dir = (kind == "send") and "sent" or "received"
                b.thread = thread
                b.remote, b["local"], b.logged = ucc_addresses(text:sub(kind == "send" and 15 or 14))
                state = "ucc_await"
            elseif kind == "end" and (state == "ucc_await" or state == "ucc_msg") then
                b.line_last = lineno
                local r2, l2, n2 = ucc_addresses(text:gsub("^End of ?", ""):gsub("^Sending Packet", ""):gsub("^Data Received", ""))
                if not b.remote then b.remote = r2 end
                if not b["local"] then b["local"] = l2 end
                if not b.logged then b.logged = n2 end
                if thread ~= b.thread then add_note(b, lineno, "end line from thread " .. thread) end
                if b.have_start then return finish(b), lineno + 1 end
                b, state = nil, "idle"
            elseif state == "ucc_await" and thread == b.thread then
                b.have_start, b.line_last = true, lineno
                if not is_start_line(text) then add_note(b, lineno, "not a SIP start line") end
                add(b, b.lines, text)
                state = "ucc_msg"
            elseif state == "ucc_await" or state == "ucc_msg" then
                add_note(b, lineno, "log line of thread " .. thread .. " inside the message block, skipped")
            elseif b then
                local m = cut_off("a UccApi line starts inside a SIPStack record", pos)
                if m then return m, lineno end
                state = "idle"
            end
        elseif tsec then
            if b then
                local m = cut_off("a new SIPStack record starts before $$end_record", pos)
                if m then return m, lineno end
            end
            if protocol and begin then
                open("SIPStack", tsec, tms, pos)
                state = "ss_fields"
            else
                state = "ss_skip"
            end
        elseif line:match("^%s*%$%$end_record%s*$") and state ~= "ucc_msg" and state ~= "ucc_await" then
            if b then
                b.line_last = lineno
                if state == "ss_head" and b.have_start then
                    add_note(b, lineno, "record ends without Message-Body")
                    b.truncated = true
                end
                if b.have_start then return finish(b), lineno + 1 end
            end
            b, state = nil, "idle"
        elseif state == "ucc_await" then
            if line ~= "" then
                b.have_start, b.line_last = true, lineno
                if not is_start_line(line) then add_note(b, lineno, "not a SIP start line") end
                add(b, b.lines, line)
                state = "ucc_msg"
            end
        elseif state == "ucc_msg" then
            b.line_last = lineno
            if not b.hdr_end then
                if line == "" then b.hdr_end = true
                else
                    if not is_header_line(line) then add_note(b, lineno, "not a SIP header line") end
                    b.cl = content_length(line) or b.cl
                end
            end
            add(b, b.lines, line)
        elseif state == "ss_fields" then
            b.line_last = lineno
            local sl = line:match("^[Ss]tart%-[Ll]ine:%s*(.-)%s*$")
            if sl then
                b.have_start = true
                if not is_start_line(sl) then add_note(b, lineno, "not a SIP start line") end
                add(b, b.lines, sl .. "\r\n")
                state = "ss_head"
            else
                local d = line:match("^[Dd]irection:%s*(.-)%s*$")
                local p = line:match("^[Pp]eer:%s*(.-)%s*$")
                if d then
                    if d:lower():find("^incoming") then b.dir = "received"
                    elseif d:lower():find("^outgoing") then b.dir = "sent"
                    else add_note(b, lineno, "unknown Direction") end
                elseif p then
                    local h, pt = endpoint(p)
                    if h then b.remote = { h, pt } else add_note(b, lineno, "bad Peer") end
                end
            end
        elseif state == "ss_head" then
            b.line_last = lineno
            local mb = line:match("^[Mm]essage%-[Bb]ody:(.*)$")
            if mb then
                local v = mb:match("^%s*(.-)%s*$")
                if v == "-" then state = "ss_done"
                else
                    add(b, b.body, (mb:gsub("^ ", "")))
                    state = "ss_body"
                end
            elseif line ~= "" then
                if not is_header_line(line) then add_note(b, lineno, "not a SIP header line") end
                b.cl = content_length(line) or b.cl
                add(b, b.lines, line .. "\r\n")
            end
        elseif state == "ss_body" then
            b.line_last = lineno
            add(b, b.body, line)
        elseif state == "ss_done" then
            b.line_last = lineno
            if line ~= "" then add_note(b, lineno, "text after \"Message-Body: -\"") end
        end
        lineno = lineno + 1
    end
end

---------------------------------------------------------------- frames

local function fill(st, frame, m)
    local lh, lp, rh, rp
    if m["local"] then lh, lp = m["local"][1], m["local"][2]
    elseif m.fmt == "SIPStack" then lh, lp = SIPSTACK_LOCAL, SIPSTACK_LOCAL_PORT
    else lh, lp = UCCAPI_LOCAL, UCCAPI_LOCAL_PORT end
    if m.remote then rh, rp = m.remote[1], m.remote[2] else rh, rp = UNKNOWN_PEER, 0 end
    local la, l6 = host_addr(st, lh)
    local ra, r6 = host_addr(st, rh)
    local sent = m.dir ~= "received"
    local src, s6, sp, dst, d6, dp = la, l6, lp, ra, r6, rp
    if not sent then src, s6, sp, dst, d6, dp = ra, r6, rp, la, l6, lp end
    local hdr = tlv(12, "sip\0") ..
                tlv(s6 and 22 or 20, src) .. tlv(d6 and 23 or 21, dst) ..
                tlv(24, u32(2)) .. tlv(25, u32(sp)) .. tlv(26, u32(dp)) ..
                tlv(35, u32(sent and 0 or 1)) .. tlv(0, "")
    frame.rec_type = wtap_rec_types.PACKET
    frame.flags = wtap_presence_flags.TS
    frame.time = NSTime(m.sec, m.ms * 1000000)
    frame.data = hdr .. m.data
    local c = string.format("line %d-%d %s %s", m.line_first, m.line_last, m.fmt,
                            m.dir or "direction unknown")
    if #m.notes > 0 then c = c .. " | " .. table.concat(m.notes, "; ") end
    frame.comment = c
end

local function read_open(file, capture)
    local pos = file:seek()
    local ok = false
    for _ = 1, 200 do
        local line = file:read()
        if not line then break end
        if #line > 4096 then line = line:sub(1, 4096) end
        line = line:gsub("\r$", ""):gsub("^\239\187\191", "")
        if parse_ucc(line) or parse_tl(line) then ok = true break end
    end
    if not ok then
        file:seek("set", pos)
        return false
    end
    file:seek("set", 0)
    capture.encap = wtap_encaps.WIRESHARK_UPPER_PDU
    capture.time_precision = wtap_tsprecs.MSEC
    capture.snapshot_length = 0
    capture.private_table = { names = {}, used = {}, lines = {}, next_line = 1 }
    return true
end

local function read(file, capture, frame)
    local st = capture.private_table
    local m, next_line = next_message(file, st.next_line)
    if not m then return false end
    st.next_line = next_line
    st.lines[m.pos] = m.line_first
    fill(st, frame, m)
    return m.pos
end

local function seek_read(file, capture, frame, offset)
    local st = capture.private_table
    local first = st.lines[offset]
    if not first then return false end
    file:seek("set", offset)
    local m = next_message(file, first)
    if not m then return false end
    fill(st, frame, m)
    return true
end

fh.read_open = read_open
fh.read = read
fh.seek_read = seek_read
fh.read_close = function() return true end
fh.seq_read_close = function() return true end
fh.extensions = "uccapilog;UccApilog;uccplog;log;txt"
register_filehandler(fh)
