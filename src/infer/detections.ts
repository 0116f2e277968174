/**
 * Detections as analyze finds them: the store's `Detection` (src/io/store/detections.ts, whose one
 * writer stores them), with the attack type one of infer's. Writes are idempotent — the same window scored
 * again replaces its row instead of adding one.
 */
import type {Detection} from '../io/index.js'
import type {AttackType} from './explain.js'

export type DetectionRow = Detection & {attackType: AttackType}
