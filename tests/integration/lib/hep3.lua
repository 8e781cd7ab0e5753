-- hep3.lua: a HEPv3 (HEP3 rev. 12) dissector for tshark, for
-- trace_hep.test.mjs.  Wireshark 4.0 has no HEP dissector of its own;
-- this one reads the header and the vendor-0 chunks into hep3.* fields
-- and hands the payload to Wireshark's own dissectors: SIP for protocol
-- type 1, SMPP for junction's type 0x3e (gw_hep.h).  Use it with
--   tshark -X lua_script:hep3.lua -r file.pcap -d udp.port==N,hep3 -T json
local hep3 = Proto("hep3", "HEPv3 (Homer encapsulation protocol)")
local F = {
  version = ProtoField.string("hep3.version", "Version"),
  length = ProtoField.uint16("hep3.length", "Length"),
  ip_family = ProtoField.uint8("hep3.ip_family", "IP family"),
  ip_proto = ProtoField.uint8("hep3.ip_proto", "IP protocol"),
  src_ip = ProtoField.ipv4("hep3.src_ip", "Source IPv4"),
  dst_ip = ProtoField.ipv4("hep3.dst_ip", "Destination IPv4"),
  src_ip6 = ProtoField.ipv6("hep3.src_ip6", "Source IPv6"),
  dst_ip6 = ProtoField.ipv6("hep3.dst_ip6", "Destination IPv6"),
  src_port = ProtoField.uint16("hep3.src_port", "Source port"),
  dst_port = ProtoField.uint16("hep3.dst_port", "Destination port"),
  ts_sec = ProtoField.uint32("hep3.ts_sec", "Timestamp seconds"),
  ts_usec = ProtoField.uint32("hep3.ts_usec", "Timestamp microseconds"),
  proto_type = ProtoField.uint8("hep3.proto_type", "Protocol type"),
  capture_id = ProtoField.uint32("hep3.capture_id", "Capture agent id"),
  payload = ProtoField.bytes("hep3.payload", "Payload"),
  correlation_id = ProtoField.string("hep3.correlation_id", "Correlation id"),
  unknown = ProtoField.uint16("hep3.unknown_chunk", "Unknown chunk type"),
}
hep3.fields = { F.version, F.length, F.ip_family, F.ip_proto, F.src_ip, F.dst_ip, F.src_ip6,
  F.dst_ip6, F.src_port, F.dst_port, F.ts_sec, F.ts_usec, F.proto_type, F.capture_id,
  F.payload, F.correlation_id, F.unknown }
local by_type = { [1] = F.ip_family, [2] = F.ip_proto, [3] = F.src_ip, [4] = F.dst_ip,
  [5] = F.src_ip6, [6] = F.dst_ip6, [7] = F.src_port, [8] = F.dst_port, [9] = F.ts_sec,
  [10] = F.ts_usec, [11] = F.proto_type, [12] = F.capture_id, [15] = F.payload,
  [17] = F.correlation_id }
local inner = { [1] = "sip", [0x3e] = "smpp" }

function hep3.dissector(tvb, pinfo, tree)
  if tvb:len() < 6 or tvb(0, 4):string() ~= "HEP3" then return 0 end
  pinfo.cols.protocol = "HEP3"
  local t = tree:add(hep3, tvb())
  t:add(F.version, tvb(0, 4))
  local total = tvb(4, 2):uint()
  t:add(F.length, tvb(4, 2))
  local off, ptype, payload = 6, nil, nil
  while off + 6 <= total and off + 6 <= tvb:len() do
    local vendor, ctype, clen = tvb(off, 2):uint(), tvb(off + 2, 2):uint(), tvb(off + 4, 2):uint()
    if clen < 6 or off + clen > tvb:len() then break end
    local field = vendor == 0 and by_type[ctype] or nil
    if field then
      t:add(field, tvb(off + 6, clen - 6))
    else
      t:add(F.unknown, tvb(off + 2, 2))
    end
    if vendor == 0 and ctype == 11 then ptype = tvb(off + 6, 1):uint() end
    if vendor == 0 and ctype == 15 then payload = tvb(off + 6, clen - 6):tvb() end
    off = off + clen
  end
  if payload and ptype and inner[ptype] then
    Dissector.get(inner[ptype]):call(payload, pinfo, tree)
  end
  return tvb:len()
end

DissectorTable.get("udp.port"):add_for_decode_as(hep3)
