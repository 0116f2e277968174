/**
 * IP protocol names the filter accepts after `proto` (IANA protocol numbers). `icmp6` and
 * `ipv6-icmp` are both in use for 58; nfdump accepts the IANA keyword list, flowscope the common ones.
 */
export const PROTOCOLS = {
  icmp: 1,
  igmp: 2,
  tcp: 6,
  udp: 17,
  gre: 47,
  esp: 50,
  ah: 51,
  icmp6: 58,
  'ipv6-icmp': 58,
  ospf: 89,
  pim: 103,
  sctp: 132,
} as const satisfies Record<string, number>

export type ProtocolName = keyof typeof PROTOCOLS

const NAME_BY_NUMBER = new Map<number, string>()
for (const [name, num] of Object.entries(PROTOCOLS)) if (!NAME_BY_NUMBER.has(num)) NAME_BY_NUMBER.set(num, name)

/** Protocol number for a name (case-insensitive), or undefined. */
export function protocolNumber(name: string): number | undefined {
  const key = name.toLowerCase()
  return Object.hasOwn(PROTOCOLS, key) ? PROTOCOLS[key as ProtocolName] : undefined
}

/** Short display name for a protocol number (`tcp`, `icmp6`), or the number as text. */
export function protocolName(num: number): string {
  return NAME_BY_NUMBER.get(num) ?? String(num)
}
