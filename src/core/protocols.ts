/**
 * IP protocol numbers (IANA "Assigned Internet Protocol Numbers") and the names flowscope reads and
 * prints for them — the one table: the decoder and the generator take the numbers, the filter parses
 * the short names, `flows` prints them, `report` shows the display names, and flow-file ingest reads
 * the whole IANA keyword list as Argus, Zeek and nfdump write it.
 */

// Plain numbers: the packet decoder and the frame builders compare against these on the hot path.
export const IPPROTO_HOPOPTS = 0
export const IPPROTO_ICMP = 1
export const IPPROTO_TCP = 6
export const IPPROTO_UDP = 17
export const IPPROTO_ROUTING = 43
export const IPPROTO_FRAGMENT = 44
export const IPPROTO_GRE = 47
export const IPPROTO_ESP = 50
export const IPPROTO_AH = 51
export const IPPROTO_ICMPV6 = 58
export const IPPROTO_NONE = 59
export const IPPROTO_DSTOPTS = 60
export const IPPROTO_SCTP = 132
export const IPPROTO_MOBILITY = 135
export const IPPROTO_UDPLITE = 136

// TCP header flag bits (RFC 9293 §3.1)
export const TCP_FIN = 0x01
export const TCP_SYN = 0x02
export const TCP_RST = 0x04
export const TCP_PSH = 0x08
export const TCP_ACK = 0x10

/**
 * The names the filter accepts after `proto` and `flows` prints (lower case). `icmp6` and `ipv6-icmp`
 * are both in use for 58; the first name of a number is the one printed. nfdump accepts the whole IANA
 * keyword list, the filter the common ones.
 */
export const PROTOCOLS = {
  icmp: IPPROTO_ICMP,
  igmp: 2,
  tcp: IPPROTO_TCP,
  udp: IPPROTO_UDP,
  gre: IPPROTO_GRE,
  esp: IPPROTO_ESP,
  ah: IPPROTO_AH,
  icmp6: IPPROTO_ICMPV6,
  'ipv6-icmp': IPPROTO_ICMPV6,
  ospf: 89,
  pim: 103,
  sctp: IPPROTO_SCTP,
} as const satisfies Record<string, number>

export type ProtocolName = keyof typeof PROTOCOLS

const NAME_BY_NUMBER = new Map<number, string>()
for (const [name, num] of Object.entries(PROTOCOLS)) if (!NAME_BY_NUMBER.has(num)) NAME_BY_NUMBER.set(num, name)

/** Protocol number for a filter name (case-insensitive), or undefined. */
export function protocolNumber(name: string): number | undefined {
  const key = name.toLowerCase()
  return Object.hasOwn(PROTOCOLS, key) ? PROTOCOLS[key as ProtocolName] : undefined
}

/** Short name for a protocol number (`tcp`, `icmp6`), or the number as text. */
export function protocolName(num: number): string {
  return NAME_BY_NUMBER.get(num) ?? String(num)
}

/** [number, short name] of each number, in table order: the first name of each number only. */
export function protocolNameEntries(): Array<[number, string]> {
  return [...NAME_BY_NUMBER]
}

// The protocols `report` names; the others it shows as numbers. Upper case, except ICMPv6 as RFC 4443 writes it.
const DISPLAYED: readonly number[] = [IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_GRE, IPPROTO_ESP, IPPROTO_ICMPV6, IPPROTO_SCTP]
const DISPLAY_NAMES = new Map<number, string>(DISPLAYED.map((num) => [num, num === IPPROTO_ICMPV6 ? 'ICMPv6' : protocolName(num).toUpperCase()]))

/** Display name for a protocol number (`TCP`, `ICMPv6`), or the number as text. */
export function protocolDisplayName(num: number): string {
  return DISPLAY_NAMES.get(num) ?? String(num)
}

/**
 * IANA protocol keywords (lower case) → number, as flow files write them (Argus, Zeek, nfdump print
 * names, in any case), with the aliases they use.
 */
export const IANA_PROTOCOL_KEYWORDS: Readonly<Record<string, number>> = {
  hopopt: IPPROTO_HOPOPTS,
  icmp: IPPROTO_ICMP,
  igmp: 2,
  ggp: 3,
  ipv4: 4,
  ipencap: 4,
  ipnip: 4,
  st: 5,
  tcp: IPPROTO_TCP,
  egp: 8,
  igp: 9,
  pup: 12,
  udp: IPPROTO_UDP,
  hmp: 20,
  'xns-idp': 22,
  rdp: 27,
  'iso-tp4': 29,
  dccp: 33,
  xtp: 36,
  ddp: 37,
  'idpr-cmtp': 38,
  ipv6: 41,
  'ipv6-route': IPPROTO_ROUTING,
  'ipv6-frag': IPPROTO_FRAGMENT,
  idrp: 45,
  rsvp: 46,
  gre: IPPROTO_GRE,
  esp: IPPROTO_ESP,
  ah: IPPROTO_AH,
  skip: 57,
  'ipv6-icmp': IPPROTO_ICMPV6,
  icmp6: IPPROTO_ICMPV6,
  icmpv6: IPPROTO_ICMPV6,
  'ipv6-nonxt': IPPROTO_NONE,
  'ipv6-opts': IPPROTO_DSTOPTS,
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
  sctp: IPPROTO_SCTP,
  fc: 133,
  'mobility-header': IPPROTO_MOBILITY,
  udplite: IPPROTO_UDPLITE,
  'mpls-in-ip': 137,
  manet: 138,
  hip: 139,
  shim6: 140,
  wesp: 141,
  rohc: 142,
  ethernet: 143,
  // Argus names UDP flows it recognises as RTP/RTCP/UDT by the application, not the IP protocol
  rtp: IPPROTO_UDP,
  rtcp: IPPROTO_UDP,
  udt: IPPROTO_UDP,
}

/**
 * Record kinds that are not IP flows: Argus writes ARP, RARP, LLC and its own management records
 * (`man`) in the flow stream. Such rows are counted as non-IP and skipped, like non-IP packets in a
 * capture, never reported as bad rows.
 */
export const NON_IP_PROTOCOL_NAMES: readonly string[] = ['arp', 'rarp', 'llc', 'man', 'ipx', 'aarp', 'stp', 'lldp', 'lacp', 'cdp', 'eapol']
