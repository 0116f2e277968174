/**
 * The bucketed post-processing engine (design §5): IP→ASN, bucket planning, shared per-bucket work,
 * the inference map, the worker pool, and the analyze controller with its resource accounting.
 */
export {attachAsn, cidrRange, enrichFlowsWithAsn, ensureAsnDatabase, lookupAsn, SPECIAL_RANGES} from './asn.js'
export type {AsnInfo} from './asn.js'
export {DEFAULT_BUCKET_CAP, DEFAULT_PREFIX_V4, DEFAULT_PREFIX_V6, planBuckets, prefixText} from './plan.js'
export type {Bucket, PlanAddress, PlanOptions} from './plan.js'
export {DEFAULT_MAP_BYTES, InferenceMap} from './inference-map.js'
export type {InferenceMapStats} from './inference-map.js'
export {CONTEXT_FEATURE_NAMES, DEFAULT_POST_SCALES, EVIDENCE_NAMES} from './post-features.js'
export type {PostScale} from './post-features.js'
export {postCalibrationPath, readPostCalibration} from './post-calibration.js'
export type {PostCalibration, ScaleCalibration} from './post-calibration.js'
export {BUCKET_HANDOFF_FORMATS} from './handoff.js'
export type {BucketHandoffFormat} from './handoff.js'
export {workerEntryPath} from './pool.js'
export type {ProcessUsage} from './worker-messages.js'
export {calibratePost, runAnalyze} from './controller.js'
export {recalibrateModel, trainAndCalibrate} from './train-and-calibrate.js'
export type {BaselineSelection, RecalibrateOptions, RecalibrateResult, TrainAndCalibrateOptions, TrainAndCalibrateResult} from './train-and-calibrate.js'
export type {
  AnalyzeOptions,
  AnalyzeResult,
  CalibratePostOptions,
  CalibratePostResult,
  FailedBucket,
  PostRunOptions,
  PostScoreRow,
  PostSteps,
  ResourceFigures,
} from './controller.js'
