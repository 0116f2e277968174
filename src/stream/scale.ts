/**
 * Scale signals from window processing times. Utilisation over a period is the processing time of the
 * windows committed in it divided by the event time those windows cover: above 1 the worker falls
 * behind. Sustained above `high` (0.95) for `highPeriodMs` (10 min) → scale out; below `low` (0.3)
 * for `lowPeriodMs` (30 min) → scale in. "Sustained" means the history reaches back over the whole
 * period and the period's utilisation is past the mark: one slow window does not trigger it.
 */

export const SCALE_SIGNALS = ['steady', 'scale-out', 'scale-in'] as const
export type ScaleSignal = (typeof SCALE_SIGNALS)[number]

export interface ScaleOptions {
  high?: number
  highPeriodMs?: number
  low?: number
  lowPeriodMs?: number
}

export interface ScaleState {
  signal: ScaleSignal
  /** utilisation over the high-mark period (10 min), NaN until there is a sample */
  utilisationHigh: number
  /** utilisation over the low-mark period (30 min) */
  utilisationLow: number
  /** the signal changed with this sample */
  changed: boolean
}

interface Sample {
  atMs: number
  processingMs: number
  windowMs: number
}

export class ScaleMonitor {
  private readonly high: number
  private readonly highPeriodMs: number
  private readonly low: number
  private readonly lowPeriodMs: number
  private readonly samples: Sample[] = []
  private firstMs = Infinity
  private signal: ScaleSignal = 'steady'

  constructor(options: ScaleOptions = {}) {
    this.high = options.high ?? 0.95
    this.highPeriodMs = options.highPeriodMs ?? 10 * 60_000
    this.low = options.low ?? 0.3
    this.lowPeriodMs = options.lowPeriodMs ?? 30 * 60_000
  }

  /** Records one committed window (at wall time `atMs`) and returns the signal now. */
  record(atMs: number, processingMs: number, windowMs: number): ScaleState {
    if (atMs < this.firstMs) this.firstMs = atMs
    this.samples.push({atMs, processingMs, windowMs})
    const keep = atMs - Math.max(this.highPeriodMs, this.lowPeriodMs)
    let drop = 0
    while (drop < this.samples.length && this.samples[drop]!.atMs < keep) drop++
    if (drop > 0) this.samples.splice(0, drop)
    const utilisationHigh = this.utilisation(atMs - this.highPeriodMs)
    const utilisationLow = this.utilisation(atMs - this.lowPeriodMs)
    // the history must span the period; the first window only opens it
    const spansHigh = this.firstMs <= atMs - this.highPeriodMs
    const spansLow = this.firstMs <= atMs - this.lowPeriodMs
    let next: ScaleSignal = 'steady'
    if (spansHigh && utilisationHigh > this.high) next = 'scale-out'
    else if (spansLow && utilisationLow < this.low) next = 'scale-in'
    const changed = next !== this.signal
    this.signal = next
    return {signal: next, utilisationHigh, utilisationLow, changed}
  }

  private utilisation(sinceMs: number): number {
    let processing = 0
    let covered = 0
    for (const s of this.samples) {
      if (s.atMs < sinceMs) continue
      processing += s.processingMs
      covered += s.windowMs
    }
    return covered > 0 ? processing / covered : Number.NaN
  }
}
