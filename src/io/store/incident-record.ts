/**
 * What a stored incident says (the `incidents` table, schema.ts): its vocabulary (attack types, roles,
 * confidence levels) and the shapes of its JSON columns. The rules that decide them are
 * src/infer/incident-rules.ts (documented in src/infer/INCIDENTS.md); readers (reports, the
 * `incidents` command) parse the columns with these types.
 */

/** An incident's attack type, decided from its flow evidence; `unknown` when no rule fits. */
export const INCIDENT_TYPES = [
  'syn_flood',
  'udp_amplification',
  'syn_ack_reflection',
  'icmp_flood',
  'udp_flood',
  'tcp_flood',
  'horizontal_scan',
  'vertical_scan',
  'brute_force',
  'beaconing',
  'exfiltration',
  'dns_tunnel',
  'unknown',
] as const
export type IncidentType = (typeof INCIDENT_TYPES)[number]

/** The entity's part in its incident. */
export const INCIDENT_ROLES = ['victim', 'attacker', 'scanner', 'target', 'reflector', 'beacon-client', 'beacon-server', 'exfiltrator', 'tunnel-client', 'anomalous'] as const
export type IncidentRole = (typeof INCIDENT_ROLES)[number]

/** How sure the incident is, from the sampled evidence behind it and its score (INCIDENTS.md). */
export const INCIDENT_CONFIDENCES = ['high', 'medium', 'low'] as const
export type IncidentConfidence = (typeof INCIDENT_CONFIDENCES)[number]

/** An estimate from a sampled count with its 95% interval (exact Poisson on the sampled count, scaled by the rate). */
export interface IntervalEstimate {
  estimate: number
  low: number
  high: number
}

/** One peer of an incident's entity, as the `counterparts.sample` lists it. */
export interface CounterpartSample {
  address: string
  /** source | reflector | target | server | client | peer */
  role: string
  /** sampled flow records between it and the entity in the incident's span */
  records: number
  /** extrapolated packets and bytes (Σ · sampling rate) */
  packets: number
  bytes: number
  /** its share of the entity's extrapolated packets with all counterparts, 0..1 */
  share: number
}

/** `incidents.counterparts`: the peers involved, summarised (a bounded sample, largest share first). */
export interface IncidentCounterparts {
  /** distinct peers seen in the sample (a lower bound of the true number under sampling) */
  total: number
  /** what the peers are to the entity: sources | reflectors | targets | peers */
  role: string
  /** share of those peers seen in exactly one sampled record, 0..1 */
  seenOnceShare: number
  /** many peers each seen once: the addresses are likely forged */
  likelySpoofed: boolean
  /** the largest peers (at most COUNTERPART_SAMPLE_SIZE) */
  sample: CounterpartSample[]
  /** for reflection and amplification: the reflectors' service ports and their share of the packets */
  services?: {port: number; name: string; share: number}[]
  /** other flagged addresses folded into this incident (flood sources, reflectors, scan targets) */
  folded?: string[]
}

/** `incidents.evidence`: what was seen, what it extrapolates to, and why it was flagged and typed. */
export interface IncidentEvidenceRecord {
  /** one sentence: why this type (the rule that fired, with its figures) */
  summary: string
  /** the confidence in words a person reads */
  confidenceText: string
  /** the largest sampling rate N (1-in-N) of the records behind it; 1 = unsampled */
  samplingRate: number
  /** counted in the store, not scaled */
  sampled: {records: number; packets: number; bytes: number}
  /** extrapolated with 95% intervals */
  estimated: {packets: IntervalEstimate; bytes: IntervalEstimate}
  /** when the entity was active in the incident's windows: its first record's start and last record's end (ISO) */
  active?: {first: string; last: string}
  /** window detections behind it, by their window-level type */
  detectionTypes: Record<string, number>
  /** the peak window: times (ISO), model, pass, threshold and the features that drove its score */
  peakWindow: {start: string; end: string}
  model: string
  pass: string
  threshold: number
  topFeatures: unknown
}

/** Largest number of counterparts listed in `counterparts.sample`. */
export const COUNTERPART_SAMPLE_SIZE = 10
