import type {FlowRecordInput} from '../../core/index.js'

export const FLOW_EXPORT_PROTOCOLS = ['netflow5', 'netflow9', 'ipfix', 'sflow5'] as const
export type FlowExportProtocol = (typeof FLOW_EXPORT_PROTOCOLS)[number]

/**
 * Receives each decoded flow record. The record object and its address arrays are reused for the next
 * record: copy what you keep (`appendFlowRecord` does).
 */
export type FlowRecordSink = (record: FlowRecordInput) => void

/** One malformed structure: which exporter sent it and where in the datagram it starts. */
export interface FlowExportProblem {
  exporter: string
  /** byte offset inside the datagram (UDP payload) */
  offset: number
  detail: string
}

export interface DatagramResult {
  /** undefined when the payload is not a flow-export datagram */
  protocol: FlowExportProtocol | undefined
  /** flow records handed to the sink (including held sets that this datagram's templates unlocked) */
  records: number
  /** problems found in this datagram */
  malformed: number
  /** data sets of this datagram held until their template arrives */
  heldSets: number
  /** records decoded but outside what a store may hold (core/flow-bounds.ts): counted, not handed on */
  invalidRecords: number
  /** why the first of them was refused */
  invalidDetail?: string
}

/** Per sFlow data source (agent, sub-agent, source id): what the sampling issue needs. */
export interface SflowSourceStats {
  agent: string
  subAgentId: number
  /** source_id type (0 ifIndex, 1 smonVlanDataSource, 2 entPhysicalEntry) */
  sourceIdType: number
  sourceIdIndex: number
  /** flow samples received */
  samples: number
  /** sampling rate of the last sample (1-in-N) */
  samplingRate: number
  /** distinct sampling rates seen; more than one means the rate changed during the capture */
  samplingRates: number[]
  /** sample_pool and sequence_number of the first and last samples (32-bit counters) */
  firstSamplePool: number
  lastSamplePool: number
  firstSequence: number
  lastSequence: number
  /** sum over samples of sampling_rate: the pool a 1-in-N estimate assumes */
  sumSamplingRate: number
  /** drops counter of the last sample */
  drops: number
}

export interface FlowExportStats {
  /** datagrams given to decodeDatagram */
  datagrams: number
  byProtocol: Record<FlowExportProtocol, number>
  /** payloads that are not NetFlow v5/v9, IPFIX or sFlow v5 */
  unrecognised: number
  /** flow records handed to the sink */
  records: number
  /** records outside what a store may hold (core/flow-bounds.ts), also counted in `malformed` */
  invalidRecords: number
  /** NetFlow v9/IPFIX data records without a source or destination address (not flows, not emitted) */
  nonFlowRecords: number
  /** NetFlow v9/IPFIX options data records */
  optionsRecords: number
  /** template and options-template records accepted (first definitions and refreshes) */
  templates: number
  /** IPFIX template withdrawals (field count 0) */
  templateWithdrawals: number
  /** data sets whose template never arrived (unknown template, or held and evicted or left at finish) */
  undecodableSets: number
  undecodableBytes: number
  /** data sets currently held waiting for their template */
  heldSets: number
  /** problems found (truncation, impossible lengths, bad templates) */
  malformed: number
  /** the first `maxProblems` problems */
  problems: FlowExportProblem[]
  /** sFlow flow samples (formats 1 and 3) */
  flowSamples: number
  /** sFlow flow samples that held no decodable IP packet (no record emitted) */
  flowSamplesWithoutIp: number
  /** sFlow counter samples (formats 2 and 4): counted and ignored */
  counterSamples: number
  /** per sFlow data source, keyed `agent/subAgentId/type:index` */
  sflowSources: Map<string, SflowSourceStats>
}

export interface FlowExportDecoderOptions {
  /** data sets held per exporter while waiting for their template (default 1,000) */
  maxHeldSetsPerExporter?: number
  /** problems kept in `stats.problems` (default 100) */
  maxProblems?: number
}
