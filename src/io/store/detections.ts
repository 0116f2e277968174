/**
 * The `detections` table (schema.ts): one row per flagged (network, address, window, model, pass), as
 * analyze (passes 'first' and 'post') and stream (pass 'stream') find them. Writes are idempotent — the
 * same window scored again (a re-run, a stream replay) replaces its row instead of adding one.
 */
import {duckdb, timestampUs} from '../../core/index.js'
import type {FlowStore} from './store.js'

export const DETECTION_PASSES = ['first', 'post', 'stream'] as const
export type DetectionPass = (typeof DETECTION_PASSES)[number]

/** A feature that drove a detection's score. */
export interface DetectionFeature {
  name: string
  /** the feature's value in the window */
  value: number
  /** (absolute error − benign median) / benign MAD scale; stored as `z` */
  standardisedError: number
}

/** A feature as `top_features` holds it: rounded to 6 decimals, the standardised error as `z`. */
export interface StoredDetectionFeature {
  name: string
  value: number
  z: number
}

/** One address flagged in one model window: a row of `detections`. Times are µs since the epoch. */
export interface Detection {
  network: string
  /** text form, as in `flows.src_ip` */
  address: string
  windowStart: number
  windowEnd: number
  /** model id: name and content hash */
  model: string
  pass: DetectionPass
  score: number
  threshold: number
  /** scan | flood | amplification | brute_force | beaconing | exfiltration | unknown */
  attackType: string
  topFeatures: DetectionFeature[]
  asn?: number | null
  asName?: string | null
  runId?: number | null
}

/** `top_features` of a detection, as stored (and as the stream prints it). */
export function storedFeatures(features: readonly DetectionFeature[]): StoredDetectionFeature[] {
  return features.map((f) => ({name: f.name, value: round6(f.value), z: round6(f.standardisedError)}))
}

function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6
}

/** `JSON.stringify(storedFeatures(features))`, without the objects in between (a commit writes tens of thousands). */
function storedFeaturesJson(features: readonly DetectionFeature[]): string {
  let json = '['
  for (let i = 0; i < features.length; i++) {
    const f = features[i] as DetectionFeature
    json += `${i === 0 ? '' : ','}{"name":${JSON.stringify(f.name)},"value":${jsonNumber(round6(f.value))},"z":${jsonNumber(round6(f.standardisedError))}}`
  }
  return `${json}]`
}

/** A number as JSON writes it: NaN and ±Infinity as null. */
function jsonNumber(x: number): string {
  return Number.isFinite(x) ? String(x) : 'null'
}

export interface WriteDetectionsOptions {
  /** the clock for `detected_at`, ms since the epoch (default `Date.now`) */
  now?: () => number
}

/**
 * Inserts or replaces detections by their key (network, address, window_start, model, pass); of rows
 * with the same key, the last one given is kept. Runs in the caller's transaction, if any. Returns how
 * many rows were written.
 *
 * The rows are staged through an appender, then upserted by one statement: a VALUES list with
 * thousands of parameters costs DuckDB far more to bind than the rows cost to write (a model round can
 * flag tens of thousands of address-windows).
 */
export async function writeDetections(store: FlowStore, rows: Iterable<Detection>, options: WriteDetectionsOptions = {}): Promise<number> {
  const byKey = new Map<string, Detection>()
  for (const r of rows) byKey.set(`${r.network}\u0000${r.address}\u0000${r.windowStart}\u0000${r.model}\u0000${r.pass}`, r)
  if (byKey.size === 0) return 0
  const {DuckDBTimestampValue} = duckdb()
  const detectedAt = new DuckDBTimestampValue(BigInt(Math.round((options.now ?? Date.now)() * 1000)))
  await store.run('CREATE TEMP TABLE IF NOT EXISTS detections_in AS SELECT * FROM detections WHERE false')
  await store.run('DELETE FROM detections_in')
  const a = await store.connection.createAppender('detections_in', null, 'temp')
  try {
    for (const r of byKey.values()) {
      a.appendVarchar(r.network)
      a.appendVarchar(r.address)
      a.appendTimestamp(timestampUs(r.windowStart))
      a.appendTimestamp(timestampUs(r.windowEnd))
      a.appendVarchar(r.model)
      a.appendVarchar(r.pass)
      a.appendDouble(r.score)
      a.appendDouble(r.threshold)
      a.appendVarchar(r.attackType)
      a.appendVarchar(storedFeaturesJson(r.topFeatures))
      if (r.asn === undefined || r.asn === null) a.appendNull()
      else a.appendUInteger(r.asn)
      if (r.asName) a.appendVarchar(r.asName)
      else a.appendNull()
      if (r.runId === undefined || r.runId === null) a.appendNull()
      else a.appendInteger(r.runId)
      a.appendTimestamp(detectedAt)
      a.appendNull() // incident_id: set by writeIncidents
      a.endRow()
    }
  } finally {
    a.closeSync()
  }
  await store.run('INSERT OR REPLACE INTO detections SELECT * FROM detections_in')
  await store.run('DELETE FROM detections_in')
  return byKey.size
}
