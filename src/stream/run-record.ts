/**
 * The `runs` row of a stream run (kind 'stream'): written when the worker starts (status 'partial'),
 * completed when it stops with wall and CPU time, peak memory, detections and the run summary.
 */
import type {FlowStore} from '../io/index.js'

export interface RunResources {
  startedAtMs: number
  cpu: NodeJS.CpuUsage
}

export async function startRunRecord(store: FlowStore, details: Record<string, unknown>, nowMs: number): Promise<number> {
  const [{id}] = (await store.all<{id: number}>("SELECT nextval('run_id_seq')::INTEGER AS id")) as [{id: number}]
  await store.run(
    `INSERT INTO runs (run_id, kind, status, started_at, details) VALUES ($1, 'stream', 'partial', make_timestamp($2::BIGINT), $3::JSON)`,
    [id, Math.round(nowMs * 1000), JSON.stringify(details)],
  )
  return id
}

export async function finishRunRecord(
  store: FlowStore,
  runId: number,
  outcome: {status: 'ok' | 'failed'; detections: number; startedAtMs: number; endedAtMs: number; cpu: NodeJS.CpuUsage; details: unknown},
): Promise<void> {
  const wallS = (outcome.endedAtMs - outcome.startedAtMs) / 1000
  const peakRssMb = process.resourceUsage().maxRSS / 1024
  await store.run(
    `UPDATE runs SET status = $2, finished_at = make_timestamp($3::BIGINT), wall_s = $4::DOUBLE, cpu_user_s = $5::DOUBLE,
       cpu_system_s = $6::DOUBLE, peak_rss_mb = $7::DOUBLE, peak_rss_total_mb = $7::DOUBLE, detections = $8, details = $9::JSON
     WHERE run_id = $1`,
    [
      runId,
      outcome.status,
      Math.round(outcome.endedAtMs * 1000),
      wallS,
      outcome.cpu.user / 1e6,
      outcome.cpu.system / 1e6,
      peakRssMb,
      outcome.detections,
      JSON.stringify(outcome.details, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v)),
    ],
  )
}
