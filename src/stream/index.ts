/**
 * The stream layer (design §6): Kinesis producer and consumer, event-time windows, checkpoints and
 * DynamoDB shard leases, tied together by `runStreamWorker`. Record format: RECORDS.md.
 */
export {createDynamoClient, createKinesisClient, LOCAL_CREDENTIALS, LOCAL_REGION, RequestTimeoutError} from './aws.js'
export type {AwsClientOptions, Backoff} from './aws.js'
export {StreamError} from './stream-error.js'
export {
  DEFAULT_MAX_RECORD_BYTES,
  KINESIS_MAX_RECORD_BYTES,
  RECORD_FORMATS,
  RECORD_VERSION,
  decodeFlowRecords,
  encodeFlowJson,
  encodeFlows,
} from './record-codec.js'
export type {DecodeCounts, EncodeOptions, FlowRecordJson, RecordFormat} from './record-codec.js'
export {FlowBatchBuilder} from './flow-builder.js'
export {PARTITION_KEYS, SRC_PARTITION_BUCKETS, putFlows, srcPartitionKey} from './producer.js'
export type {PartitionKeyMode, PutFlowsOptions, PutProgress, PutResult} from './producer.js'
export {replayCapture} from './replay.js'
export type {ReplayOptions} from './replay.js'
export {TokenBucket} from './token-bucket.js'
export {deaggregateRecords, listShards, readShard} from './consumer.js'
export type {ReadEvent, ReadShardOptions, ShardInfo, ShardReadBatch, ShardStart, StartPosition, UserRecord} from './consumer.js'
export {DEFAULT_LATENESS_SEC, DEFAULT_STREAM_WINDOW_SEC, WindowAssembler, windowFlows} from './windows.js'
export type {ClosedWindow, CloseReason, WindowOptions} from './windows.js'
export {SCALE_SIGNALS, ScaleMonitor} from './scale.js'
export type {ScaleOptions, ScaleSignal, ScaleState} from './scale.js'
export {STREAM_TABLES_SQL, ensureStreamTables} from './results.js'
export type {ScoreContext, ScoreWindow, WindowDetection, WindowOutcome} from './results.js'
export {SHARD_END, ShardProgress, StoreCheckpoints} from './checkpoints.js'
export type {Checkpoint} from './checkpoints.js'
export {LeaseManager, planLeaseTaking} from './leases.js'
export type {Lease, LeaseManagerOptions, LeaseToTake, TakeReason} from './leases.js'
export {runStreamWorker} from './worker.js'
export type {NetworkWindowReport, StreamEvent, StreamReadTuning, StreamRunSummary, StreamWorkerOptions, WindowReport} from './worker.js'
export {putCaptures, runStream, START_POSITIONS} from './run-stream.js'
export type {PutCapturesOptions, PutCapturesResult, RunStreamOptions, RunStreamResult, StartPositionName} from './run-stream.js'
export {startLocalDynamo, startLocalKinesis, startLocalServers} from './local.js'
export type {LocalServer, LocalServers} from './local.js'
export {benchStream} from './bench-stream.js'
export type {StreamBenchOptions, StreamBenchResult, StreamBenchWorker} from './bench-stream.js'
export {createModelScorer} from './model-scorer.js'
export type {ModelScorer, ModelScorerOptions, ModelScorerStats} from './model-scorer.js'
export {measureDetectionLatency, tileFlows} from './detection-latency.js'
export type {AttackLatency, DetectionLatencyOptions, DetectionLatencyResult, LatencyAttack, LatencyNetwork} from './detection-latency.js'
