/**
 * Protocol names as flow files write them: IANA keywords (Argus, Zeek, nfdump print names, in any
 * case), plus the link-layer record kinds Argus reports in the same column. The io layer cannot import
 * the query layer's table (dependencies point one way), and ingest needs a longer list anyway.
 */

/** IANA protocol keywords (lower case) → number; aliases as Argus/nfdump/Zeek spell them. */
export const IP_PROTOCOL_NAMES: Readonly<Record<string, number>> = {
  hopopt: 0,
  icmp: 1,
  igmp: 2,
  ggp: 3,
  ipv4: 4,
  ipencap: 4,
  ipnip: 4,
  st: 5,
  tcp: 6,
  egp: 8,
  igp: 9,
  pup: 12,
  udp: 17,
  hmp: 20,
  'xns-idp': 22,
  rdp: 27,
  'iso-tp4': 29,
  dccp: 33,
  xtp: 36,
  ddp: 37,
  'idpr-cmtp': 38,
  ipv6: 41,
  'ipv6-route': 43,
  'ipv6-frag': 44,
  idrp: 45,
  rsvp: 46,
  gre: 47,
  esp: 50,
  ah: 51,
  skip: 57,
  'ipv6-icmp': 58,
  icmp6: 58,
  icmpv6: 58,
  'ipv6-nonxt': 59,
  'ipv6-opts': 60,
  rspf: 73,
  vmtp: 81,
  eigrp: 88,
  ospf: 89,
  ospfigp: 89,
  'ax.25': 93,
  ipip: 94,
  etherip: 97,
  encap: 98,
  pim: 103,
  ipcomp: 108,
  vrrp: 112,
  l2tp: 115,
  isis: 124,
  sctp: 132,
  fc: 133,
  'mobility-header': 135,
  udplite: 136,
  'mpls-in-ip': 137,
  manet: 138,
  hip: 139,
  shim6: 140,
  wesp: 141,
  rohc: 142,
  ethernet: 143,
  // Argus names UDP flows it recognises as RTP/RTCP/UDT by the application, not the IP protocol
  rtp: 17,
  rtcp: 17,
  udt: 17,
}

/**
 * Record kinds that are not IP flows: Argus writes ARP, RARP, LLC and its own management records
 * (`man`) in the flow stream. Such rows are counted as non-IP and skipped, like non-IP packets in a
 * capture, never reported as bad rows.
 */
export const NON_IP_PROTOCOL_NAMES: readonly string[] = ['arp', 'rarp', 'llc', 'man', 'ipx', 'aarp', 'stp', 'lldp', 'lacp', 'cdp', 'eapol']

/** ICMP and ICMPv6: the port columns carry type and code, not ports. */
export const ICMP_PROTOCOLS: readonly number[] = [1, 58]
