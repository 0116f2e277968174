// The sampling layer's public API (design §4): packet table, samplers, estimators, benchmark, chart.
export {DEFAULT_MAX_PACKETS, PacketTableBuilder, buildPacketTable, packetsByFlowKey} from './packet-table.js'
export type {FlowKeyDictionary, HostDictionary, PacketFields, PacketTable, PacketTableOptions, PacketTableStats} from './packet-table.js'
export {assembleTableFlows, tableFlowsToBatches} from './flow-records.js'
export type {AssembleOptions, TableFlows} from './flow-records.js'
export {computeGroundTruth} from './ground-truth.js'
export type {GroundTruth, GroundTruthOptions} from './ground-truth.js'
export {
  BernoulliSampler,
  HashFlowSampler,
  PACKET_SAMPLER_NAMES,
  SflowSampler,
  SystematicSampler,
  createPacketSampler,
} from './packet-samplers.js'
export type {PacketSample, PacketSampler, PacketSamplerName} from './packet-samplers.js'
export {
  FLOW_SAMPLER_NAMES,
  PrioritySampler,
  SampleAndHoldSampler,
  ThresholdSampler,
  estimateFlowSampleTotals,
} from './flow-samplers.js'
export type {FlowRecordSample, FlowRecordSampler, FlowSampleTotals, FlowSamplerName, FlowVolumes, SizeMeasure} from './flow-samplers.js'
export {binomial} from './binomial.js'
export {thinFlows} from './thinning.js'
export type {ThinnedFlows} from './thinning.js'
export {
  KEY_NAMES,
  chao1,
  effectiveRate,
  estimateByKey,
  estimateDistinctHosts,
  estimateFlowGroups,
  estimateFlowSizeTail,
  estimateFromFlows,
  estimateMix,
  estimateTcpFlows,
  estimateTopK,
  estimateTotals,
  flowSizeDistribution,
  flowSizeKsDistance,
  keyEstimate,
  orderConfidence,
  rankConfidences,
  sampleDesign,
} from './estimators.js'
export type {
  DesignOptions,
  DistinctEstimate,
  Estimate,
  FlowExtrapolation,
  FlowGroupEstimate,
  FlowRow,
  FlowSizeDistribution,
  FlowSizeTail,
  KeyName,
  KeyedEstimates,
  Measure,
  MixEntry,
  SampleDesign,
  TcpFlowEstimate,
  TopKEntry,
  TotalsEstimate,
} from './estimators.js'
export {DEFAULT_BENCH_RATES, DEFAULT_BENCH_TRIALS, runSamplingBenchmark, runSamplingBenchmarkParallel, trialSeed} from './bench-sampling.js'
export type {ErrorSummary, SamplingBenchmarkCell, SamplingBenchmarkOptions, SamplingBenchmarkResult} from './bench-sampling.js'
export {CHART_METRICS, renderSamplingChartSvg} from './chart-svg.js'
export type {ChartMetric, ChartOptions} from './chart-svg.js'
export {sampleCapture, sampleToFlows} from './sample-capture.js'
export type {SampleCaptureOptions, SampleCaptureResult, SampledFlowOptions, SampledFlows} from './sample-capture.js'
export {describeSample} from './describe-sample.js'
export type {DescribeOptions, SamplePicture, SampleTruthComparison, TruthCheck} from './describe-sample.js'
export {sampleCaptureIntoStore, thinStoredFlows, writeEstimates} from './store-sample.js'
export {recordSamplingBenchmark} from './bench-record.js'
export type {EstimateRow, SampleCaptureIntoStoreOptions, SampleCaptureIntoStoreResult, StoredSample, ThinStoredOptions, ThinStoredResult} from './store-sample.js'
export {sampleIntoStore} from './sample-into-store.js'
export type {SampleIntoStoreOptions, SampleIntoStoreResult} from './sample-into-store.js'
