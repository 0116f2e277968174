/**
 * The DuckDB store: schema and migrations, the flow appender and reader, summary and lock, and the
 * typed API every layer writes through — sources, runs, detections (the one `Detection` type and its
 * one writer) — and `flowRangeSql`, the one flow-range selector (its time semantics documented there).
 */
export {withStoreLock} from './lock.js'
export {FlowAppender, FlowStore, openStoreForReading} from './store.js'
export {leaveOutBadFlows, storedFlowsTable} from './health.js'
export type {ReadingOptions} from './store.js'
export {FLOW_COLUMNS, SCHEMA_SQL} from './schema.js'
export {summarizeStore} from './summary.js'
export type {StoreSummary} from './summary.js'
export {readFlowBatches} from './flow-reader.js'
export type {FlowSelection} from './flow-reader.js'
export {acquireStoreLock, claimTempDir, isStale, JobLockedError, lockPathFor, readLockHolder, removeLock, staleLockMessage} from './lock.js'
export type {LockHolder, StoreLockOptions} from './lock.js'
export {appendFlowBatches} from './flow-appender.js'
export type {AppendedTotals} from './flow-appender.js'
export {addToSource, findDerivedSource, findSource, insertSource, nextSourceId} from './sources.js'
export type {NewSource, SourceAddition, StoredSource} from './sources.js'
export {finishRun, nextRunId, recordRun} from './runs.js'
export type {NewRun, RunOutcome, RunStatus} from './runs.js'
export {DETECTION_PASSES, storedFeatures, writeDetections} from './detections.js'
export type {Detection, DetectionFeature, DetectionPass, StoredDetectionFeature, WriteDetectionsOptions} from './detections.js'
export {FLOW_RANGE_MODES, flowRangeSql} from './flow-range.js'
export type {FlowRange, FlowRangeMode, FlowRangeSql, FlowRangeSqlOptions} from './flow-range.js'
export {QUARANTINE_TABLE, badFlowRows, countBadFlows, quarantineBadFlows} from './health.js'
export type {BadFlowCount, BadFlowCounts, BadFlowRow, QuarantineResult} from './health.js'
