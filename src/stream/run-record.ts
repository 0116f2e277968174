/**
 * The `runs` row of a stream run (kind 'stream'): written when the worker starts (status 'partial'),
 * completed when it stops with wall and CPU time, peak memory, detections and the run summary.
 */
import {finishRun, recordRun} from '../io/index.js'
import type {FlowStore} from '../io/index.js'

export interface RunResources {
  startedAtMs: number
  cpu: NodeJS.CpuUsage
}

export async function startRunRecord(store: FlowStore, details: Record<string, unknown>, nowMs: number): Promise<number> {
  return recordRun(store, {kind: 'stream', status: 'partial', startedAtUs: Math.round(nowMs * 1000), details})
}

export async function finishRunRecord(
  store: FlowStore,
  runId: number,
  outcome: {status: 'ok' | 'failed'; detections: number; startedAtMs: number; endedAtMs: number; cpu: NodeJS.CpuUsage; details: unknown},
): Promise<void> {
  const peakRssMb = process.resourceUsage().maxRSS / 1024
  await finishRun(store, runId, {
    status: outcome.status,
    finishedAtUs: Math.round(outcome.endedAtMs * 1000),
    wallS: (outcome.endedAtMs - outcome.startedAtMs) / 1000,
    cpuUserS: outcome.cpu.user / 1e6,
    cpuSystemS: outcome.cpu.system / 1e6,
    peakRssMb,
    peakRssTotalMb: peakRssMb,
    detections: outcome.detections,
    details: outcome.details,
  })
}
