/** Flow-export decoding (NetFlow v5/v9, IPFIX, sFlow v5) into flow records. */
export {FlowExportDecoder, createFlowExportStats} from './decoder.js'
export {looksLikeFlowExport} from './detect.js'
export {sflowEffectiveRate} from './sflow.js'
export {FLOW_EXPORT_PROTOCOLS} from './types.js'
export type {
  DatagramResult,
  FlowExportDecoderOptions,
  FlowExportProblem,
  FlowExportProtocol,
  FlowExportStats,
  FlowRecordSink,
  SflowSourceStats,
} from './types.js'
export {ExportRecordAssembler, looksLikeExportCapture} from './export-records.js'
export {udpPayload} from './export-records.js'
