/**
 * One decoder per collector or ingest: recognises each datagram by its content (NetFlow v5/v9, IPFIX,
 * sFlow v5), keeps the templates, options and held data of every exporter, and hands flow records to
 * a sink. Bad bytes never throw: each problem is counted with the exporter and byte offset, and
 * decoding goes on with the next set or datagram.
 */
import type {FlowRecordInput} from '../../core/index.js'
import {flowRecordProblem} from '../../core/index.js'
import type {DecodeEnv} from './env.js'
import {decodeNetflowV5} from './netflow-v5.js'
import {TemplateFlowDecoder} from './netflow-v9-ipfix.js'
import {RecordAccumulator} from './record.js'
import {SflowDecoder} from './sflow.js'
import type {
  DatagramResult,
  FlowExportDecoderOptions,
  FlowExportProtocol,
  FlowExportStats,
  FlowRecordSink,
} from './types.js'

const DEFAULT_MAX_HELD_SETS = 1000
const DEFAULT_MAX_PROBLEMS = 100

export function createFlowExportStats(): FlowExportStats {
  return {
    datagrams: 0,
    byProtocol: {netflow5: 0, netflow9: 0, ipfix: 0, sflow5: 0},
    unrecognised: 0,
    records: 0,
    invalidRecords: 0,
    nonFlowRecords: 0,
    optionsRecords: 0,
    templates: 0,
    templateWithdrawals: 0,
    undecodableSets: 0,
    undecodableBytes: 0,
    heldSets: 0,
    malformed: 0,
    problems: [],
    flowSamples: 0,
    flowSamplesWithoutIp: 0,
    counterSamples: 0,
    sflowSources: new Map(),
  }
}

const noSink: FlowRecordSink = () => {}

/** An error thrown by the caller's sink: passed through, never counted as malformed input. */
class SinkFailure {
  constructor(readonly cause: unknown) {}
}

export class FlowExportDecoder implements DecodeEnv {
  readonly stats: FlowExportStats = createFlowExportStats()
  readonly acc = new RecordAccumulator()
  private readonly maxProblems: number
  private readonly templated: TemplateFlowDecoder
  private readonly sflow: SflowDecoder
  private sink: FlowRecordSink = noSink
  private datagramRecords = 0
  private datagramProblems = 0
  private datagramInvalid = 0
  private datagramInvalidDetail: string | undefined
  private exporter = ''

  constructor(options: FlowExportDecoderOptions = {}) {
    this.maxProblems = options.maxProblems ?? DEFAULT_MAX_PROBLEMS
    this.templated = new TemplateFlowDecoder(this, Math.max(0, options.maxHeldSetsPerExporter ?? DEFAULT_MAX_HELD_SETS))
    this.sflow = new SflowDecoder(this)
  }

  /**
   * Decode one UDP payload from `exporter` (its address as text; templates are kept per exporter).
   * `receivedAtMicros` stamps sFlow samples and stands in for missing NetFlow/IPFIX times. Records of
   * data held from earlier datagrams that this datagram's templates unlock go to this `sink` too.
   */
  decodeDatagram(payload: Uint8Array, exporter: string, receivedAtMicros: number, sink: FlowRecordSink): DatagramResult {
    const stats = this.stats
    stats.datagrams++
    this.datagramRecords = 0
    this.datagramProblems = 0
    this.datagramInvalid = 0
    this.datagramInvalidDetail = undefined
    this.exporter = exporter
    let heldSets = 0
    const protocol = protocolOf(payload)
    if (protocol === undefined) {
      stats.unrecognised++
    } else {
      stats.byProtocol[protocol]++
      const dv = new DataView(payload.buffer, payload.byteOffset, payload.byteLength)
      this.sink = sink
      try {
        switch (protocol) {
          case 'netflow5':
            decodeNetflowV5(this, payload, dv, exporter)
            break
          case 'netflow9':
            heldSets = this.templated.decodeV9(payload, dv, exporter, receivedAtMicros)
            break
          case 'ipfix':
            heldSets = this.templated.decodeIpfix(payload, dv, exporter, receivedAtMicros)
            break
          case 'sflow5':
            this.sflow.decode(payload, dv, exporter, receivedAtMicros)
            break
        }
      } catch (err) {
        if (err instanceof SinkFailure) throw err.cause
        // every read is bounds-checked; a RangeError here is a decoder bug, still not worth a crash
        this.problem(exporter, 0, `decoder error: ${err instanceof Error ? err.message : String(err)}`)
      } finally {
        this.sink = noSink
      }
    }
    return {
      protocol,
      records: this.datagramRecords,
      malformed: this.datagramProblems,
      heldSets,
      invalidRecords: this.datagramInvalid,
      ...(this.datagramInvalidDetail === undefined ? {} : {invalidDetail: this.datagramInvalidDetail}),
    }
  }

  /**
   * End of input: data still waiting for a template is undecodable. Returns the final stats. The
   * decoder stays usable (templates are kept).
   */
  finish(): FlowExportStats {
    this.templated.finish()
    return this.stats
  }

  /** @internal DecodeEnv */
  problem(exporter: string, offset: number, detail: string): void {
    this.stats.malformed++
    this.datagramProblems++
    if (this.stats.problems.length < this.maxProblems) this.stats.problems.push({exporter, offset, detail})
  }

  /** @internal DecodeEnv */
  emit(record: FlowRecordInput): void {
    const invalid = flowRecordProblem(record.tsStart, record.tsEnd, record.packets, record.bytes, record.samplingRate ?? 1)
    if (invalid !== null) {
      // a record no store may hold (a damaged count or time field): counted, never handed on
      this.stats.invalidRecords++
      this.datagramInvalid++
      this.datagramInvalidDetail ??= invalid
      this.problem(this.exporter, 0, `flow record out of range: ${invalid}`)
      return
    }
    this.stats.records++
    this.datagramRecords++
    try {
      this.sink(record)
    } catch (cause) {
      throw new SinkFailure(cause)
    }
  }
}

/**
 * Which decoder a payload goes to, by its leading version field alone, so that damaged datagrams of a
 * known protocol are counted as malformed rather than unrecognised. NetFlow/IPFIX start with a 16-bit
 * version (5, 9, 10); sFlow with a 32-bit one (5), whose first 16 bits are therefore 0.
 */
function protocolOf(payload: Uint8Array): FlowExportProtocol | undefined {
  if (payload.length < 2) return undefined
  const v = (payload[0]! << 8) | payload[1]!
  if (v === 5) return 'netflow5'
  if (v === 9) return 'netflow9'
  if (v === 10) return 'ipfix'
  if (v === 0 && payload.length >= 4 && payload[2] === 0 && payload[3] === 5) return 'sflow5'
  return undefined
}
