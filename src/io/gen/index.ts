/**
 * Synthetic traffic generator: deterministic captures with labelled attacks and exact ground truth.
 */
export {generateTraffic, DEFAULT_SEED, DEFAULT_START} from './generate.js'
export type {GenerateOptions, GenerateResult, GenerateStats} from './generate.js'
export {makeFixtures} from './fixtures.js'
export type {FixtureInfo} from './fixtures.js'
export {ATTACK_KINDS, BENIGN_KINDS, TRAFFIC_KINDS, FLOW_CSV_HEADER} from './truth.js'
export type {AttackKind, AttackTruth, BenignKind, GroundTruth, TrafficKind, Volume} from './truth.js'
