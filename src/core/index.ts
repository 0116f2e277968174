/**
 * core: the vocabulary every layer shares and imports from here — flow batches, addresses, the seeded
 * rng, errors and exit codes, the IP protocol table and TCP flags, flow-timeout defaults, the type-7
 * quantile, the hash mix, typed-array growth, DuckDB loading (on first use) and the package's own paths.
 */
export {duckdb, sqlIdent, sqlString, timestampUs} from './duckdb.js'
export {CaptureFormatError, EXIT, FlowscopeError, InputDataError, StoreError, StoreLockedError, UsageError} from './errors.js'
export type {FlowscopeErrorOptions} from './errors.js'
export {ADDR_WORDS, appendFlowRecord, copyFlowRow, createFlowBatch, flowBatchBuffers, flowBatchCapacity} from './flow-batch.js'
export type {FlowBatch, FlowRecordInput} from './flow-batch.js'
export {addrToString, ipv4ToString, ipv6ToString, parseIp} from './ip.js'
export {packageFile, workerEntry} from './package-paths.js'
export {createRng} from './rng.js'
export type {Rng} from './rng.js'
export {
  IANA_PROTOCOL_KEYWORDS,
  IPPROTO_AH,
  IPPROTO_DSTOPTS,
  IPPROTO_ESP,
  IPPROTO_FRAGMENT,
  IPPROTO_GRE,
  IPPROTO_HOPOPTS,
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
  IPPROTO_MOBILITY,
  IPPROTO_NONE,
  IPPROTO_ROUTING,
  IPPROTO_SCTP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  IPPROTO_UDPLITE,
  NON_IP_PROTOCOL_NAMES,
  PROTOCOLS,
  protocolDisplayName,
  protocolName,
  protocolNameEntries,
  protocolNumber,
  TCP_ACK,
  TCP_FIN,
  TCP_PSH,
  TCP_RST,
  TCP_SYN,
} from './protocols.js'
export type {ProtocolName} from './protocols.js'
export {DEFAULT_ACTIVE_TIMEOUT_MICROS, DEFAULT_ACTIVE_TIMEOUT_SEC, DEFAULT_IDLE_TIMEOUT_MICROS, DEFAULT_IDLE_TIMEOUT_SEC, flowTimeouts} from './flow-timeouts.js'
export type {FlowTimeoutOptions} from './flow-timeouts.js'
export {fmix32, hashWords} from './hash.js'
export {poissonInterval95, quantileSorted} from './stats.js'
export {growF64, growI32, growU16, growU32, growU8} from './grow.js'
export {KeyTable} from './key-table.js'
export {redactCredentials, terminalMessage, visible} from './text.js'
export {FLOW_TIME_MAX_US, FLOW_TIME_MIN_US, MAX_FLOW_BYTES, MAX_FLOW_DURATION_US, MAX_FLOW_PACKETS, MAX_NETWORK_LABEL, MAX_SAMPLING_RATE, firstBadFlowRow, flowRecordProblem, flowRecordProblemSql, networkLabelProblem, storedFlowColumns} from './flow-bounds.js'
export type {FlowBoundsColumns} from './flow-bounds.js'
export {AMPLIFICATION_SERVICES, LOGIN_SERVICES} from './services.js'
export {DEFAULT_THINNING_SEED, hasRateLimits, loadRateLimits, parseRateLimits, rateLimitFor, thinFlows, thinningFactor, ThinningTally} from './thinning.js'
export type {NetworkThinning, RateLimits, ThinOptions, ThinResult} from './thinning.js'
