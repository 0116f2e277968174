/**
 * The detection model layer (design §5): features per (address, window), the autoencoder trainer,
 * ONNX export and loading, per-network calibration, scoring and explanations.
 */
export {
  DEFAULT_HOP_SEC,
  DEFAULT_SUBBIN_SEC,
  DEFAULT_MODEL_WINDOW_SEC,
  EPHEMERAL_PORT_START,
  FEATURE_COUNT,
  FEATURE_INDEX,
  FEATURE_NAMES,
  FEATURE_PLANS,
  FEATURE_SET_VERSION,
  computeFeatures,
  featureRow,
  featureSql,
  resolveWindowing,
} from './features.js'
export type {FeatureMatrix, FeatureName, FeatureOptions, FeaturePlan} from './features.js'
export {ACTIVATIONS, DEFAULT_HIDDEN_SIZES} from './autoencoder.js'
export type {Activation, Autoencoder, DenseLayer} from './autoencoder.js'
export type {FeatureScaler} from './scaler.js'
export {reconstructionErrors, trainAutoencoder} from './train.js'
export type {EpochStats, FeatureVectors, TrainOptions, TrainResult, TrainedModel} from './train.js'
export {DEFAULT_FP_BUDGET, fitCalibration, normalisedScores, standardisedErrors} from './normalisation.js'
export type {Calibration, CalibrationOptions, ErrorNormalisation} from './normalisation.js'
export {INPUT_NAME, ONNX_OPSET, SCORE_OUTPUT, SQ_ERROR_OUTPUT, buildOnnxModel, exportOnnx, trainedModelMetadata} from './onnx-export.js'
export type {ExportInfo} from './onnx-export.js'
export type {ModelCalibration, ModelMetadata} from './model-metadata.js'
export {closeModel, loadModel} from './model-file.js'
export type {LoadModelOptions, LoadedModel} from './model-file.js'
export {calibrate} from './calibrate.js'
export type {CalibrateOptions, CalibrateResult} from './calibrate.js'
export {DEFAULT_SCORE_BATCH, runSqErrors, scoreFeatures} from './score.js'
export type {ScoreOptions, ScoreResult} from './score.js'
export {ATTACK_TYPES, explain, explainRow, guessAttackType} from './explain.js'
export type {AttackType, Explanation, ExplainOptions, FeatureContribution} from './explain.js'
export type {DetectionRow} from './detections.js'
export {modelId, runFirstPass} from './first-pass.js'
export type {FirstPassOptions, FirstPassResult} from './first-pass.js'
export {requireThreshold, scoreWindows} from './score-windows.js'
export type {FlaggedWindow, ScoreWindowsOptions, WindowScores} from './score-windows.js'
export {BEACON_PIVOT_PREFIX, DEFAULT_BEACON_SIZE_TOLERANCE, RELATED_BEACON_FEATURE, findBeaconRelations, relatedBeaconDetections} from './beacon-pivot.js'
export type {BeaconPivotOptions, BeaconRelation, BeaconSeed} from './beacon-pivot.js'
export {calibrateFromStore, trainFromStore} from './train-store.js'
export type {CalibrateFromStoreOptions, TrainFromStoreOptions, TrainFromStoreResult} from './train-store.js'
export {bundledModelPath} from './bundled.js'
export {INCIDENT_RULES, MIN_INCIDENT_PACKETS, classifyIncident, confidenceOf, decideFromEvidence, estimatesOf, rankOf} from './incident-rules.js'
export type {Classification, IncidentCandidate} from './incident-rules.js'
export {decideIncidents} from './incidents.js'
