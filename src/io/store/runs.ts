/**
 * The `runs` table (schema.ts): one row per analyze, stream or benchmark run, with its resources and
 * figures. A run is either recorded once it is over (`recordRun` with `finishedAtUs`), or started
 * (`recordRun` with status 'partial') and completed by `finishRun` when it stops — what a stream does,
 * so that a killed one still leaves its row.
 */
import type {FlowStore} from './store.js'

export type RunStatus = 'ok' | 'failed' | 'partial'

/** What a run's row can say once it is over. Times are µs since the epoch; anything left out stays NULL. */
export interface RunOutcome {
  status: RunStatus
  finishedAtUs?: number | null
  wallS?: number | null
  /** controller plus workers */
  cpuUserS?: number | null
  cpuSystemS?: number | null
  /** largest single process */
  peakRssMb?: number | null
  /** sum over processes of their peaks */
  peakRssTotalMb?: number | null
  addresses?: number | null
  addressesPerS?: number | null
  addressesPerCpuS?: number | null
  buckets?: number | null
  mapHits?: number | null
  mapMisses?: number | null
  reuseRatio?: number | null
  failures?: number | null
  detections?: number | null
  /** everything else (parameters, per-worker figures, failed buckets): stored as JSON */
  details?: unknown
}

export interface NewRun extends RunOutcome {
  /** the id taken at the run's start (`nextRunId`); one is taken when left out */
  runId?: number
  /** analyze | stream | sample | bench-sampling | train */
  kind: string
  network?: string | null
  startedAtUs: number
}

/** The `runs` columns of `RunOutcome`'s figures, and the cast each parameter gets. */
const OUTCOME_COLUMNS = [
  ['wallS', 'wall_s', 'DOUBLE'],
  ['cpuUserS', 'cpu_user_s', 'DOUBLE'],
  ['cpuSystemS', 'cpu_system_s', 'DOUBLE'],
  ['peakRssMb', 'peak_rss_mb', 'DOUBLE'],
  ['peakRssTotalMb', 'peak_rss_total_mb', 'DOUBLE'],
  ['addresses', 'addresses', 'UBIGINT'],
  ['addressesPerS', 'addresses_per_s', 'DOUBLE'],
  ['addressesPerCpuS', 'addresses_per_cpu_s', 'DOUBLE'],
  ['buckets', 'buckets', 'UBIGINT'],
  ['mapHits', 'map_hits', 'UBIGINT'],
  ['mapMisses', 'map_misses', 'UBIGINT'],
  ['reuseRatio', 'reuse_ratio', 'DOUBLE'],
  ['failures', 'failures', 'UBIGINT'],
  ['detections', 'detections', 'UBIGINT'],
] as const satisfies readonly (readonly [keyof RunOutcome, string, string])[]

/** A new run id from `run_id_seq`: taken when a run starts, so its detections can carry it. */
export async function nextRunId(store: FlowStore): Promise<number> {
  const [{id}] = (await store.all<{id: number}>("SELECT nextval('run_id_seq')::INTEGER AS id")) as [{id: number}]
  return id
}

/** Writes a run's row; returns its id. */
export async function recordRun(store: FlowStore, r: NewRun): Promise<number> {
  const id = r.runId ?? (await nextRunId(store))
  const figures = OUTCOME_COLUMNS.filter(([key]) => r[key] !== undefined)
  const columns = ['run_id', 'kind', 'status', 'network', 'started_at', 'finished_at', ...figures.map(([, column]) => column), 'details']
  const values = [
    '$id',
    '$kind',
    '$status',
    '$network',
    'make_timestamp($started::BIGINT)',
    'make_timestamp($finished::BIGINT)',
    ...figures.map(([key, , type]) => `$${key}::${type}`),
    '$details::JSON',
  ]
  await store.run(`INSERT INTO runs (${columns.join(', ')}) VALUES (${values.join(', ')})`, {
    id,
    kind: r.kind,
    status: r.status,
    network: r.network ?? null,
    started: r.startedAtUs,
    finished: r.finishedAtUs ?? null,
    ...Object.fromEntries(figures.map(([key]) => [key, r[key] ?? null])),
    details: detailsJson(r.details),
  })
  return id
}

/** Completes a started run: its status and end, and the figures given (the others are left as they are). */
export async function finishRun(store: FlowStore, runId: number, o: RunOutcome): Promise<void> {
  const figures = OUTCOME_COLUMNS.filter(([key]) => o[key] !== undefined)
  const sets = [
    'status = $status',
    ...(o.finishedAtUs === undefined ? [] : ['finished_at = make_timestamp($finished::BIGINT)']),
    ...figures.map(([key, column, type]) => `${column} = $${key}::${type}`),
    ...(o.details === undefined ? [] : ['details = $details::JSON']),
  ]
  await store.run(`UPDATE runs SET ${sets.join(', ')} WHERE run_id = $id`, {
    id: runId,
    status: o.status,
    ...(o.finishedAtUs === undefined ? {} : {finished: o.finishedAtUs}),
    ...Object.fromEntries(figures.map(([key]) => [key, o[key] ?? null])),
    ...(o.details === undefined ? {} : {details: detailsJson(o.details)}),
  })
}

/** JSON text of a run's details; numbers JSON cannot hold (NaN, ±Infinity) become null. */
function detailsJson(details: unknown): string | null {
  if (details === undefined || details === null) return null
  return JSON.stringify(details, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v))
}
