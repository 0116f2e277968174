/**
 * Ingest: files into the store. `ingestFiles` (with the lookahead that decodes the next capture while
 * the last one is stored) serves `ingest` and `run`; the decoding and hashing threads, `CaptureFlows`
 * (a capture's flows, for ingest and `stream put`), flow-file ingest and the live UDP collector.
 */
export {feedCollector} from './collector.js'
export type {CollectorStats} from './collector.js'
export {INGEST_FORMATS} from './ingest-kind.js'
export {CaptureLookahead, DECODE_MODES} from './ingest.js'
export type {IngestResult} from './ingest.js'
export {ingestFlowFile} from './ingest-flow-file.js'
export type {FlowFileIngestOptions, FlowFileIngestResult, FlowFileProblem} from './ingest-flow-file.js'
export {ingestFiles, ingestTotals} from './ingest-files.js'
export type {FileProgress, IngestFilesOptions, IngestTotals} from './ingest-files.js'
export {ingestCapture} from './ingest.js'
export {contentHashFile, contentHashOf, createContentHasher} from './content-hash.js'
export type {DecodeMode, FlowExportSummary, IngestOptions} from './ingest.js'
export {parseListen, runCollector} from './collector.js'
export type {CollectorOptions, CollectorResult, ListenAddress} from './collector.js'
export {ingestFile, sniffIngestKind} from './ingest-file.js'
export type {IngestFileOptions, IngestFormat} from './ingest-file.js'
export {CaptureFlows} from './capture-flows.js'
export type {CaptureFlowsOptions} from './capture-flows.js'
