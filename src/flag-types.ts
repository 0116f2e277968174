import {Flags} from '@oclif/core'

import {networkLabelProblem, UsageError} from './core/index.js'

const UNIT_MS: Record<string, number> = {s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000}

/**
 * A point in time as cron jobs write it: relative (`24h`, `7d`, `90m`: that long before now) or
 * absolute (ISO 8601, e.g. `2026-01-05T10:00:00Z`; a date alone means its midnight UTC).
 */
export function parseTimeSpec(spec: string, now: () => number = Date.now): Date {
  const rel = /^(\d+(?:\.\d+)?)\s*([smhdw])$/i.exec(spec.trim())
  // a relative time too far back for a Date (`99999999999d`) is as unreadable as a typo
  const d = rel ? new Date(now() - Number(rel[1]) * UNIT_MS[rel[2]!.toLowerCase()]!) : new Date(/^\d{4}-\d{2}-\d{2}$/.test(spec.trim()) ? `${spec.trim()}T00:00:00Z` : spec.trim())
  if (Number.isNaN(d.getTime())) {
    throw new UsageError(`cannot read time '${spec}'`, {hint: 'use a relative time like 24h or 7d, or ISO 8601 like 2026-01-05T10:00:00Z'})
  }
  return d
}

/** A duration like `5m`, `30s`, `1h` (or plain seconds) in seconds. */
export function parseDurationSec(spec: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([smhdw]?)$/i.exec(spec.trim())
  if (!m) throw new UsageError(`cannot read duration '${spec}'`, {hint: 'use e.g. 30s, 5m, 1h'})
  return (Number(m[1]) * (UNIT_MS[(m[2] || 's').toLowerCase()] ?? 1000)) / 1000
}

/** A network (tenant) label as given on the command line (the rule: core's networkLabelProblem). */
export function parseNetworkLabel(spec: string): string {
  const problem = networkLabelProblem(spec)
  if (problem !== null) throw new UsageError(`--network: ${problem}`, {hint: 'use letters, digits and punctuation, e.g. --network site-a'})
  return spec
}

export const networkFlag = Flags.custom<string>({
  parse: async (input) => parseNetworkLabel(input),
})

export const timeFlag = Flags.custom<Date>({
  parse: async (input) => parseTimeSpec(input),
})

export const durationFlag = Flags.custom<number>({
  parse: async (input) => parseDurationSec(input),
})

/** A sampling rate as people write it: `1/1000`, `0.001`, or `1000` (1-in-N). Returns N. */
export function parseRate(spec: string): number {
  const s = spec.trim()
  let n: number
  const frac = /^1\s*\/\s*(\d+(?:\.\d+)?)$/.exec(s)
  if (frac) n = Number(frac[1])
  else if (/^\d*\.\d+(e-?\d+)?$|^\d+e-\d+$/i.test(s)) n = 1 / Number(s)
  else if (/^\d+$/.test(s)) n = Number(s)
  else n = NaN
  if (!(Number.isFinite(n) && n >= 1)) {
    throw new UsageError(`cannot read sampling rate '${spec}'`, {hint: 'use 1/1000, 0.001 or 1000 (one packet in N, N >= 1)'})
  }
  return n
}

export const rateFlag = Flags.custom<number>({
  parse: async (input) => parseRate(input),
})

/** A false-positive budget: a share strictly between 0 and 0.5 (`0.01`, `1e-3`). */
export function parseFpBudget(spec: string): number {
  const n = Number(spec)
  if (!(n > 0 && n < 0.5)) throw new UsageError(`--fp-budget must be a share between 0 and 0.5, got ${spec}`)
  return n
}

export const fpBudgetFlag = Flags.custom<number>({
  parse: async (input) => parseFpBudget(input),
})

/** A positive number (`--speed 10`, `0.5`). */
export const positiveNumberFlag = Flags.custom<number>({
  parse: async (input, _ctx, opts) => {
    const n = Number(input)
    if (!(Number.isFinite(n) && n > 0)) throw new UsageError(`--${opts.name} must be a positive number, got '${input}'`)
    return n
  },
})

/** What a report prints on stdout: `md` is `markdown` spelled short. */
export const REPORT_FORMATS = ['table', 'markdown', 'md', 'csv'] as const
export type ReportFormatFlag = (typeof REPORT_FORMATS)[number]

/** `--format md` as `markdown`; the others as they are. */
export function reportFormat(f: ReportFormatFlag): Exclude<ReportFormatFlag, 'md'> {
  return f === 'md' ? 'markdown' : f
}

/** What `--fail-on` exits 4 for: any incident passing the filter (with --min-severity, of that severity or more), or any window detection. */
export const FAIL_ON = ['incidents', 'detections'] as const
export type FailOn = (typeof FAIL_ON)[number]

/** `--min-severity`: incidents of at least this severity (the 1..5 scale of the incidents table). */
export const minSeverityFlag = Flags.integer({
  summary: 'Only incidents of at least this severity (1 lowest .. 5 highest); with --fail-on incidents, only those count.',
  min: 1,
  max: 5,
})

/** `--rate-limit` and `--rate-limit-file`, the same on `stream` and `collect` (read with core's loadRateLimits). */
export const rateLimitFlags = {
  'rate-limit': positiveNumberFlag({
    summary: 'Budget of flow records per second for every network: above it, records are thinned 1 in k (k an integer) and their sampling rate multiplied by k.',
  }),
  'rate-limit-file': Flags.string({summary: 'JSON budgets per network, records/s: {"default": N, "networks": {"NAME": N}} (--rate-limit overrides the default).'}),
}
