/**
 * io: bytes in and out of flowscope, in five rooms, each behind its own index.ts —
 * capture/ (pcap/pcapng reading, packet decoding, flow assembly), flowexport/ (NetFlow v5/v9, IPFIX,
 * sFlow), flowfile/ (CSV/TSV/Zeek/Parquet flow files in, Parquet/Arrow out), store/ (the DuckDB
 * store and its typed API) and ingest/ (files into the store: lookahead, worker and hash threads, the
 * live collector). Other layers import only this door; DuckDB loads when a store is first opened.
 */
export {readCapture} from './capture/index.js'
export {FlowAssembler} from './capture/index.js'
export {CaptureLookahead, DECODE_MODES, DEFAULT_ACTIVE_TIMEOUT_SEC, DEFAULT_IDLE_TIMEOUT_SEC, findSource, ingestCapture} from './ingest/index.js'
export {contentHashFile, contentHashOf, createContentHasher} from './ingest/index.js'
export type {DecodeMode, FlowExportSummary, IngestOptions, IngestResult} from './ingest/index.js'
export {ExportRecordCollector, looksLikeExportCapture, udpPayload} from './flowexport/index.js'
export type {PacketBatch} from './capture/index.js'
export {FLOW_COLUMNS, SCHEMA_SQL} from './store/index.js'
export {FlowStore, openStoreForReading} from './store/index.js'
export {summarizeStore} from './store/index.js'
export type {StoreSummary} from './store/index.js'
export {parseListen, runCollector} from './ingest/index.js'
export type {CollectorOptions, CollectorResult, ListenAddress} from './ingest/index.js'
export {readFlowBatches} from './store/index.js'
export type {FlowSelection} from './store/index.js'
export {INGEST_FORMATS, ingestFile, sniffIngestKind} from './ingest/index.js'
export type {IngestFileOptions, IngestFormat} from './ingest/index.js'
export {ingestFiles, ingestTotals} from './ingest/index.js'
export type {FileProgress, IngestFilesOptions, IngestTotals} from './ingest/index.js'
export {exportFlows, FLOW_FILE_PRESETS, EXPORT_FORMATS, PARQUET_CODECS} from './flowfile/index.js'
export type {ExportResult, PresetName} from './flowfile/index.js'
export type {FlowFileIngestResult} from './ingest/index.js'
export {acquireStoreLock, JobLockedError, lockPathFor, withStoreLock} from './store/index.js'
export {appendFlowBatches} from './store/index.js'
export type {AppendedTotals} from './store/index.js'
export {DECODE_NOT_IP, DECODE_OK, createDecodedPacket, decodePacket} from './capture/index.js'
export type {CaptureFormat, CaptureReadStats} from './capture/index.js'
export {feedCollector} from './ingest/index.js'
export type {CollectorStats} from './ingest/index.js'
export {FlowAppender} from './store/index.js'
