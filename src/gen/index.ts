/**
 * Synthetic traffic generator: deterministic captures with labelled attacks and exact ground truth.
 */
export {generateTraffic, DEFAULT_SEED, DEFAULT_START} from './generate.js'
export type {GenerateOptions, GenerateResult, GenerateStats} from './generate.js'
export {makeFixtures} from './fixtures.js'
export type {FixtureInfo} from './fixtures.js'
export {ALL_ATTACK_KINDS, ATTACK_KINDS, BENIGN_KINDS, SLOW_ATTACK_KINDS, TRAFFIC_KINDS, FLOW_CSV_HEADER} from './truth.js'
export type {AttackKind, AttackTruth, BenignKind, GroundTruth, SlowAttackKind, TrafficKind, Volume} from './truth.js'
export {SLOW_INSTANCES, SLOW_PERIODS, slowPeriodSec} from './slow-attacks.js'
