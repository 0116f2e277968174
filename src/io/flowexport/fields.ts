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

/** Kind of an IANA (enterprise 0) element or v9 field type; enterprise-specific fields are Skip. */
export function fieldKind(id: number, length: number): FieldKind {
  switch (id) {
    case 8:
      return length === 4 ? FieldKind.Src4 : FieldKind.Skip
    case 12:
      return length === 4 ? FieldKind.Dst4 : FieldKind.Skip
    case 27:
      return length === 16 ? FieldKind.Src6 : FieldKind.Skip
    case 28:
      return length === 16 ? FieldKind.Dst6 : FieldKind.Skip
    case 7:
      return FieldKind.SrcPort
    case 11:
      return FieldKind.DstPort
    case 4:
      return FieldKind.Proto
    case 6:
      return FieldKind.TcpFlags
    case 2:
      return FieldKind.PacketsDelta
    case 86:
      return FieldKind.PacketsTotal
    case 298:
      return FieldKind.PacketsInitiator
    case 1:
      return FieldKind.BytesDelta
    case 85:
      return FieldKind.BytesTotal
    case 231:
      return FieldKind.BytesInitiator
    case 32:
    case 139:
      return FieldKind.IcmpTypeCode
    case 176:
    case 178:
      return FieldKind.IcmpType
    case 177:
    case 179:
      return FieldKind.IcmpCode
    case 22:
      return FieldKind.FirstUptime
    case 21:
      return FieldKind.LastUptime
    case 150:
      return FieldKind.StartSeconds
    case 151:
      return FieldKind.EndSeconds
    case 152:
      return FieldKind.StartMillis
    case 153:
      return FieldKind.EndMillis
    case 154:
      return length === 8 ? FieldKind.StartMicrosNtp : FieldKind.Skip
    case 155:
      return length === 8 ? FieldKind.EndMicrosNtp : FieldKind.Skip
    case 156:
      return length === 8 ? FieldKind.StartNanosNtp : FieldKind.Skip
    case 157:
      return length === 8 ? FieldKind.EndNanosNtp : FieldKind.Skip
    case 158:
      return FieldKind.StartDeltaMicros
    case 159:
      return FieldKind.EndDeltaMicros
    case 160:
      return FieldKind.SystemInitMillis
    case 161:
      return FieldKind.DurationMillis
    case 162:
      return FieldKind.DurationMicros
    case 34:
      return FieldKind.SamplingInterval
    case 35:
      return FieldKind.SamplingAlgorithm
    case 48:
    case 302:
      return FieldKind.SamplerId
    case 49:
      return FieldKind.SamplerMode
    case 50:
      return FieldKind.SamplerInterval
    case 305:
      return FieldKind.SamplingPacketInterval
    case 306:
      return FieldKind.SamplingPacketSpace
    case 309:
      return FieldKind.SamplingSize
    case 310:
      return FieldKind.SamplingPopulation
    default:
      return FieldKind.Skip
  }
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
