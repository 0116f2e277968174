/**
 * Messages between the controller and its worker processes, over the `child_process` IPC channel with
 * `serialization: 'advanced'` (structured clone: typed arrays cross as such, not as JSON lists).
 * A worker handles one job at a time and reports its process's cumulative CPU time and peak RSS with
 * every answer, so the controller can still account for a worker that dies later.
 */
import type {BucketJob, JobOutput, WorkSetup} from './bucket-work.js'

export type ToWorker =
  | {type: 'init'; setup: WorkSetup}
  | {type: 'job'; taskId: number; job: BucketJob}
  | {type: 'stats'}
  | {type: 'close'}

export type FromWorker =
  | {type: 'ready'; usage: ProcessUsage}
  | {type: 'result'; taskId: number; output: JobOutput; usage: ProcessUsage}
  | {type: 'error'; taskId: number | null; message: string; usage: ProcessUsage}
  | {type: 'stats'; usage: ProcessUsage}

/** One process's resource use since it started. */
export interface ProcessUsage {
  pid: number
  role: 'controller' | 'worker'
  cpuUserS: number
  cpuSystemS: number
  peakRssMb: number
  /** jobs finished (workers) */
  jobs: number
  /** false for a worker that died (its figures are the last it reported) */
  exitedCleanly?: boolean
}

/**
 * Test hook: makes a worker exit in the middle of a job (after loading the bucket's flows).
 * `FLOWSCOPE_TEST_WORKER_EXIT=<n>` — on its n-th job, first-generation workers only (a replacement
 * worker then succeeds: the retry path); `<n>:always` — every worker (the retry fails too);
 * `key:<bucket key>[:always]` — on that bucket.
 */
export const WORKER_EXIT_HOOK = 'FLOWSCOPE_TEST_WORKER_EXIT'
/** 0 for the pool's first workers, 1 + n for replacements of dead ones */
export const WORKER_GENERATION = 'FLOWSCOPE_WORKER_GENERATION'

export function selfUsage(role: ProcessUsage['role'], jobs = 0): ProcessUsage {
  const cpu = process.cpuUsage()
  return {
    pid: process.pid,
    role,
    cpuUserS: cpu.user / 1e6,
    cpuSystemS: cpu.system / 1e6,
    // resourceUsage().maxRSS is in kilobytes (getrusage ru_maxrss on Linux)
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    jobs,
  }
}
