#!/bin/sh
# Converts Antrea's NetworkPolicy audit log (/var/log/antrea/networkpolicy/np.log, Antrea >= 1.13
# line format) to netsem's plain flow format, CSV flavour, version 1 (docs/FORMATS.md).
#   sh antrea-np-log-to-netsem-flows.sh np.log > flows.csv && netsem check cluster/ --observed flows.csv
# Fields of a line: 1 date, 2 time, 3 OVS table, 4 policy, 5 rule, 6 direction, 7 action,
# 8 priority, 9 applied-to pod, 10 source IP, 11 source port, 12 destination IP, 13 destination
# port, 14 protocol, 15 IP length, 16 log label [, "[N packets in D]"].
awk '
BEGIN { print "# netsemFlows 1"; print "time,src,dst,protocol,port,verdict,srcName,dstName,scope" }
{
  # Pass hands the decision to the next tier, Redirect to the L7 engine: no final verdict.
  if ($7 == "Pass" || $7 == "Redirect") next
  proto = ($14 == "IPv6-ICMP") ? "ICMPv6" : $14
  port = (proto == "ICMP" || proto == "ICMPv6" || $13 == "<nil>") ? "" : $13
  # Antrea logs no ports for SCTP: such a line cannot be judged on its port.
  if (port == "" && proto != "ICMP" && proto != "ICMPv6") { print "skipped, no port: " $0 > "/dev/stderr"; next }
  # The applied-to pod is the destination of an ingress rule, the source of an egress rule.
  src = ""; dst = ""
  if ($9 != "<nil>") { if ($6 == "Ingress") dst = $9; else src = $9 }
  # An allowed ingress was delivered: the connection passed both filters (scope left empty, the
  # default); an egress line speaks for the egress filter only, a denied ingress line for ingress.
  if ($7 == "Allow") { verdict = "allowed"; scope = ($6 == "Egress") ? "egress" : "" }
  else { verdict = "denied"; scope = ($6 == "Egress") ? "egress" : "ingress" }
  time = $1 "T" $2; gsub("/", "-", time)
  print time "," $10 "," $12 "," proto "," port "," verdict "," src "," dst "," scope
}' "$@"
