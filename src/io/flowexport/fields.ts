/**
 * NetFlow v9 field types (RFC 3954 §8) and IPFIX information elements (IANA "IPFIX Information
 * Elements" registry; the numbers below 128 are shared with v9) mapped to what a flow record needs.
 * A template is compiled once into one small integer per field (a `FieldKind`), so decoding a data
 * record is a switch over integers instead of a lookup per field.
 */

export enum FieldKind {
  Skip = 0,
  Src4,
  Dst4,
  Src6,
  Dst6,
  SrcPort,
  DstPort,
  Proto,
  TcpFlags,
  /** packetDeltaCount (2) */
  PacketsDelta,
  /** packetTotalCount (86) */
  PacketsTotal,
  /** initiatorPackets (298), NSEL/biflow exporters */
  PacketsInitiator,
  /** octetDeltaCount (1) */
  BytesDelta,
  /** octetTotalCount (85) */
  BytesTotal,
  /** initiatorOctets (231) */
  BytesInitiator,
  /** icmpTypeCodeIPv4 (32), icmpTypeCodeIPv6 (139): type * 256 + code */
  IcmpTypeCode,
  /** icmpTypeIPv4 (176), icmpTypeIPv6 (178) */
  IcmpType,
  /** icmpCodeIPv4 (177), icmpCodeIPv6 (179) */
  IcmpCode,
  /** flowStartSysUpTime / FIRST_SWITCHED (22), ms since exporter boot */
  FirstUptime,
  /** flowEndSysUpTime / LAST_SWITCHED (21) */
  LastUptime,
  StartSeconds,
  EndSeconds,
  StartMillis,
  EndMillis,
  /** dateTimeMicroseconds: NTP format (RFC 7011 §6.1.9) */
  StartMicrosNtp,
  EndMicrosNtp,
  /** dateTimeNanoseconds: NTP format (RFC 7011 §6.1.10) */
  StartNanosNtp,
  EndNanosNtp,
  /** flowStartDeltaMicroseconds (158): µs before the message's export time */
  StartDeltaMicros,
  EndDeltaMicros,
  /** systemInitTimeMilliseconds (160): absolute boot time of the exporter */
  SystemInitMillis,
  DurationMillis,
  DurationMicros,
  /** SAMPLING_INTERVAL (34) */
  SamplingInterval,
  /** SAMPLING_ALGORITHM (35) */
  SamplingAlgorithm,
  /** FLOW_SAMPLER_ID / samplerId (48), selectorId (302) */
  SamplerId,
  /** FLOW_SAMPLER_MODE (49) */
  SamplerMode,
  /** FLOW_SAMPLER_RANDOM_INTERVAL / samplerRandomInterval (50) */
  SamplerInterval,
  /** samplingPacketInterval (305) */
  SamplingPacketInterval,
  /** samplingPacketSpace (306) */
  SamplingPacketSpace,
  /** samplingSize (309) */
  SamplingSize,
  /** samplingPopulation (310) */
  SamplingPopulation,
}

/**
 * The elements each kind is read from (v9 field type = IANA element id below 128), and the one length a
 * kind must have where it has one: an address, or an NTP timestamp. Any other id is Skip.
 */
const KIND_ELEMENTS: ReadonlyArray<readonly [kind: FieldKind, ids: readonly number[], length?: number]> = [
  [FieldKind.Src4, [8], 4],
  [FieldKind.Dst4, [12], 4],
  [FieldKind.Src6, [27], 16],
  [FieldKind.Dst6, [28], 16],
  [FieldKind.SrcPort, [7]],
  [FieldKind.DstPort, [11]],
  [FieldKind.Proto, [4]],
  [FieldKind.TcpFlags, [6]],
  [FieldKind.PacketsDelta, [2]],
  [FieldKind.PacketsTotal, [86]],
  [FieldKind.PacketsInitiator, [298]],
  [FieldKind.BytesDelta, [1]],
  [FieldKind.BytesTotal, [85]],
  [FieldKind.BytesInitiator, [231]],
  [FieldKind.IcmpTypeCode, [32, 139]],
  [FieldKind.IcmpType, [176, 178]],
  [FieldKind.IcmpCode, [177, 179]],
  [FieldKind.FirstUptime, [22]],
  [FieldKind.LastUptime, [21]],
  [FieldKind.StartSeconds, [150]],
  [FieldKind.EndSeconds, [151]],
  [FieldKind.StartMillis, [152]],
  [FieldKind.EndMillis, [153]],
  [FieldKind.StartMicrosNtp, [154], 8],
  [FieldKind.EndMicrosNtp, [155], 8],
  [FieldKind.StartNanosNtp, [156], 8],
  [FieldKind.EndNanosNtp, [157], 8],
  [FieldKind.StartDeltaMicros, [158]],
  [FieldKind.EndDeltaMicros, [159]],
  [FieldKind.SystemInitMillis, [160]],
  [FieldKind.DurationMillis, [161]],
  [FieldKind.DurationMicros, [162]],
  [FieldKind.SamplingInterval, [34]],
  [FieldKind.SamplingAlgorithm, [35]],
  [FieldKind.SamplerId, [48, 302]],
  [FieldKind.SamplerMode, [49]],
  [FieldKind.SamplerInterval, [50]],
  [FieldKind.SamplingPacketInterval, [305]],
  [FieldKind.SamplingPacketSpace, [306]],
  [FieldKind.SamplingSize, [309]],
  [FieldKind.SamplingPopulation, [310]],
]

const KIND_OF_ID = new Map<number, {kind: FieldKind; length: number | undefined}>(
  KIND_ELEMENTS.flatMap(([kind, ids, length]) => ids.map((id) => [id, {kind, length}] as const)),
)

/** Kind of an IANA (enterprise 0) element or v9 field type; enterprise-specific fields are Skip. */
export function fieldKind(id: number, length: number): FieldKind {
  const e = KIND_OF_ID.get(id)
  if (e === undefined || (e.length !== undefined && e.length !== length)) return FieldKind.Skip
  return e.kind
}

/** Kinds read as unsigned integers (reduced-size encoding, RFC 7011 §6.2: any length 1–8). */
export function isUnsignedKind(kind: FieldKind): boolean {
  return (
    kind !== FieldKind.Skip &&
    kind !== FieldKind.Src4 &&
    kind !== FieldKind.Dst4 &&
    kind !== FieldKind.Src6 &&
    kind !== FieldKind.Dst6 &&
    kind !== FieldKind.StartMicrosNtp &&
    kind !== FieldKind.EndMicrosNtp &&
    kind !== FieldKind.StartNanosNtp &&
    kind !== FieldKind.EndNanosNtp
  )
}
