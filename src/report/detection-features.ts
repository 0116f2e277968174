/**
 * A stored detection's `top_features` as the report reads them back — for the window detections and
 * for an incident's peak window alike.
 */
import type {StoredDetectionFeature} from '../io/index.js'

/** A stored detection's feature (`StoredDetectionFeature`) as read back: null where the stored number is not one. */
export interface DetectionFeature extends Pick<StoredDetectionFeature, 'name'> {
  value: number | null
  /** standardised error of the feature: how far it was from the network's benign median, in MADs */
  z: number | null
}

/** Parsed `top_features`: its entries with a name; anything else is left out (a value that is not an array is no features). */
export function featuresOf(parsed: unknown): DetectionFeature[] {
  if (!Array.isArray(parsed)) return []
  const out: DetectionFeature[] = []
  for (const f of parsed) {
    if (typeof f !== 'object' || f === null) continue
    const o = f as Record<string, unknown>
    if (typeof o.name !== 'string') continue
    out.push({name: o.name, value: finiteOrNull(o.value), z: finiteOrNull(o.z)})
  }
  return out
}

/** `top_features` as stored (JSON text); text that is not JSON is read as no features. */
export function parseFeatures(json: string | null): DetectionFeature[] {
  if (json === null) return []
  try {
    return featuresOf(JSON.parse(json))
  } catch {
    return []
  }
}

/** A finite number, from a number or a bigint; null otherwise. */
export function finiteOrNull(v: unknown): number | null {
  if (v === null || v === undefined) return null
  const n = typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : Number.NaN
  return Number.isFinite(n) ? n : null
}
