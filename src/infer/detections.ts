/**
 * Detections as stored (table `detections`): one row per flagged (network, address, window, model,
 * pass). Writes are idempotent — the same window scored again (a re-run, a stream replay) replaces
 * its row instead of adding one.
 */
import {duckdb} from '../core/index.js'

import type {FlowStore} from '../io/index.js'
import type {AttackType, FeatureContribution} from './explain.js'

export const DETECTION_PASSES = ['first', 'post', 'stream'] as const
export type DetectionPass = (typeof DETECTION_PASSES)[number]

export interface DetectionRow {
  network: string
  address: string
  /** µs since the epoch */
  windowStart: number
  windowEnd: number
  model: string
  pass: DetectionPass
  score: number
  threshold: number
  attackType: AttackType
  topFeatures: FeatureContribution[]
  asn?: number | null
  asName?: string | null
  runId?: number | null
}

/** Insert or replace detections (by network, address, window_start, model, pass). */
export async function writeDetections(store: FlowStore, rows: readonly DetectionRow[], now: () => number = Date.now): Promise<void> {
  if (rows.length === 0) return
  const stamp = new (duckdb().DuckDBTimestampValue)(BigInt(now()) * 1000n)
  await store.run(`CREATE TEMP TABLE IF NOT EXISTS detections_in AS SELECT * FROM detections WHERE false`)
  await store.run('DELETE FROM detections_in')
  const a = await store.connection.createAppender('detections_in', null, 'temp')
  try {
    for (const r of rows) {
      a.appendVarchar(r.network)
      a.appendVarchar(r.address)
      a.appendTimestamp(new (duckdb().DuckDBTimestampValue)(BigInt(Math.floor(r.windowStart))))
      a.appendTimestamp(new (duckdb().DuckDBTimestampValue)(BigInt(Math.floor(r.windowEnd))))
      a.appendVarchar(r.model)
      a.appendVarchar(r.pass)
      a.appendDouble(r.score)
      a.appendDouble(r.threshold)
      a.appendVarchar(r.attackType)
      a.appendVarchar(JSON.stringify(r.topFeatures.map((f) => ({name: f.name, value: round(f.value), z: round(f.standardisedError)}))))
      if (r.asn === undefined || r.asn === null) a.appendNull()
      else a.appendUInteger(r.asn)
      if (r.asName) a.appendVarchar(r.asName)
      else a.appendNull()
      if (r.runId === undefined || r.runId === null) a.appendNull()
      else a.appendInteger(r.runId)
      a.appendTimestamp(stamp)
      a.endRow()
    }
  } finally {
    a.closeSync()
  }
  await store.run('INSERT OR REPLACE INTO detections SELECT * FROM detections_in')
  await store.run('DELETE FROM detections_in')
}

function round(x: number): number {
  return Math.round(x * 1e6) / 1e6
}
