/**
 * A pool of worker processes (`child_process.fork` of the compiled worker entry), one job at a time
 * each. The controller bounds concurrency with p-limit (never more jobs in flight than workers); the
 * pool hands each job to an idle worker. A worker that dies during a job is replaced by a fresh
 * process and the job is retried once on it; a second death, or an error the job itself raised, is
 * reported as a failure of that job, never swallowed.
 */
import type {ChildProcess} from 'node:child_process'
import {fork} from 'node:child_process'
import {existsSync} from 'node:fs'

import {UsageError} from '../core/index.js'
import type {BucketJob, JobOutput, WorkSetup} from './bucket-work.js'
import type {FromWorker, ProcessUsage, ToWorker} from './worker-messages.js'
import {WORKER_GENERATION} from './worker-messages.js'
import {workerEntry} from '../core/index.js'

export interface PoolOptions {
  size: number
  /** compiled worker entry (default: `workerEntryPath()`) */
  entry?: string
  setup: WorkSetup
  /** extra environment for the workers */
  env?: Record<string, string>
  /** how long a worker may take to start (open DuckDB, load the model) */
  startTimeoutMs?: number
}

export class WorkerDiedError extends Error {
  constructor(
    message: string,
    readonly attempts: number,
  ) {
    super(message)
    this.name = 'WorkerDiedError'
  }
}

export class JobError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'JobError'
  }
}

export interface JobRun {
  output: JobOutput
  /** 1, or 2 when the first worker died and a fresh one finished the job */
  attempts: number
  pid: number
}

/** The compiled worker process entry (a child process cannot run .ts files: see core/package-paths). */
export function workerEntryPath(): string {
  return workerEntry('buckets/worker.js')
}

interface Slot {
  index: number
  child: ChildProcess | null
  generation: number
  busy: boolean
  ready: Promise<void> | null
  /** resolves/rejects the job in flight */
  pending: {taskId: number; resolve: (m: FromWorker) => void; reject: (e: Error) => void} | null
  /** replies to 'stats' */
  onStats: ((u: ProcessUsage) => void) | null
}

export class WorkerPool {
  private readonly slots: Slot[] = []
  private readonly waiters: ((slot: Slot) => void)[] = []
  private readonly usage = new Map<number, ProcessUsage>()
  private nextTask = 1
  private closed = false
  /** workers that died (and were replaced) */
  deaths = 0
  /** jobs that were retried on a fresh worker */
  retried = 0

  private constructor(
    private readonly entry: string,
    private readonly options: PoolOptions,
  ) {}

  /** Forks `size` workers and waits until each has opened its store and model. */
  static async start(options: PoolOptions): Promise<WorkerPool> {
    const entry = options.entry ?? workerEntryPath()
    if (!existsSync(entry)) {
      throw new UsageError(`worker entry ${entry} does not exist`, {hint: 'build flowscope first (npm run build)'})
    }
    if (!Number.isInteger(options.size) || options.size < 1) throw new UsageError(`workers must be a positive integer, got ${options.size}`)
    const pool = new WorkerPool(entry, options)
    for (let i = 0; i < options.size; i++) pool.slots.push({index: i, child: null, generation: 0, busy: false, ready: null, pending: null, onStats: null})
    try {
      await Promise.all(pool.slots.map((s) => pool.spawn(s)))
    } catch (error) {
      await pool.close()
      throw error
    }
    return pool
  }

  get size(): number {
    return this.slots.length
  }

  /** Runs `job` on an idle worker; retried once on a fresh worker if its worker dies. */
  async run(job: BucketJob): Promise<JobRun> {
    const slot = await this.acquire()
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          if (!alive(slot.child)) await this.spawn(slot)
          else await slot.ready
          const reply = await this.send(slot, job)
          if (reply.type === 'error') throw new JobError(reply.message)
          if (reply.type !== 'result') throw new JobError(`unexpected reply '${reply.type}'`)
          return {output: reply.output, attempts: attempt, pid: reply.usage.pid}
        } catch (error) {
          if (!(error instanceof WorkerDiedError)) throw error
          if (attempt >= 2) throw new WorkerDiedError(`${error.message}; the retry on a fresh worker died too`, attempt)
          this.retried++
          // the dead worker's slot gets a fresh process for the retry
          await this.spawn(slot)
        }
      }
    } finally {
      this.release(slot)
    }
  }

  /** Resource use of every worker process started, live or dead (dead ones: their last report). */
  workerUsage(): ProcessUsage[] {
    return [...this.usage.values()]
  }

  /** Asks the live workers for their final figures, then stops them. */
  async close(): Promise<ProcessUsage[]> {
    if (this.closed) return this.workerUsage()
    this.closed = true
    await Promise.all(
      this.slots.map(async (slot) => {
        const child = slot.child
        if (child === null || child.exitCode !== null) return
        try {
          await slot.ready
          const usage = await new Promise<ProcessUsage | null>((resolve) => {
            const timer = setTimeout(() => resolve(null), 5000)
            slot.onStats = (u) => {
              clearTimeout(timer)
              resolve(u)
            }
            this.post(child, {type: 'stats'})
          })
          if (usage) this.usage.set(usage.pid, {...usage, exitedCleanly: true})
        } catch {
          // a worker that never started has nothing to report
        }
        await new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve()
          const timer = setTimeout(() => {
            child.kill('SIGKILL')
            resolve()
          }, 5000)
          child.once('exit', () => {
            clearTimeout(timer)
            resolve()
          })
          this.post(child, {type: 'close'})
        })
      }),
    )
    return this.workerUsage()
  }

  private async acquire(): Promise<Slot> {
    const idle = this.slots.find((s) => !s.busy)
    if (idle !== undefined) {
      idle.busy = true
      return idle
    }
    return new Promise<Slot>((resolve) => this.waiters.push(resolve))
  }

  private release(slot: Slot): void {
    const next = this.waiters.shift()
    if (next !== undefined) next(slot)
    else slot.busy = false
  }

  private spawn(slot: Slot): Promise<void> {
    if (alive(slot.child)) slot.child!.kill('SIGKILL')
    const generation = slot.child === null && slot.generation === 0 ? 0 : slot.generation + 1
    slot.generation = generation
    const child = fork(this.entry, [], {
      serialization: 'advanced',
      // tests run under vitest, whose loader flags a plain JS worker must not inherit
      execArgv: [],
      env: {...process.env, ...this.options.env, [WORKER_GENERATION]: String(generation)},
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    slot.child = child
    child.on('message', (m: FromWorker) => {
      if (m.usage) this.usage.set(m.usage.pid, {...m.usage, exitedCleanly: false})
      if (m.type === 'stats') {
        slot.onStats?.(m.usage)
        slot.onStats = null
        return
      }
      const p = slot.pending
      if (p !== null && (m.type === 'result' || m.type === 'error') && m.taskId === p.taskId) {
        slot.pending = null
        p.resolve(m)
      }
    })
    child.on('exit', (code, signal) => {
      if (slot.child !== child) return
      const p = slot.pending
      slot.pending = null
      if (p !== null) this.deaths++
      p?.reject(new WorkerDiedError(`worker ${child.pid} exited (${signal ?? `code ${code}`}) during a job`, 1))
    })
    const timeoutMs = this.options.startTimeoutMs ?? 60_000
    slot.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`worker ${child.pid} did not start within ${timeoutMs} ms`)), timeoutMs)
      const onMessage = (m: FromWorker): void => {
        if (m.type !== 'ready' && !(m.type === 'error' && m.taskId === null)) return
        clearTimeout(timer)
        child.off('message', onMessage)
        child.off('exit', onExit)
        if (m.type === 'ready') resolve()
        else reject(new JobError(`worker ${child.pid} could not start: ${m.message}`))
      }
      const onExit = (code: number | null, signal: string | null): void => {
        clearTimeout(timer)
        child.off('message', onMessage)
        reject(new WorkerDiedError(`worker ${child.pid} exited (${signal ?? `code ${code}`}) while starting`, 1))
      }
      child.on('message', onMessage)
      child.once('exit', onExit)
    })
    // a start failure surfaces where the slot is awaited; never as an unhandled rejection
    slot.ready.catch(() => undefined)
    this.post(child, {type: 'init', setup: this.options.setup})
    return slot.ready
  }

  private send(slot: Slot, job: BucketJob): Promise<FromWorker> {
    const child = slot.child!
    const taskId = this.nextTask++
    return new Promise<FromWorker>((resolve, reject) => {
      if (!alive(child)) {
        reject(new WorkerDiedError(`worker ${child.pid} is gone`, 1))
        return
      }
      slot.pending = {taskId, resolve, reject}
      this.post(child, {type: 'job', taskId, job})
    })
  }

  private post(child: ChildProcess, message: ToWorker): void {
    if (child.connected) child.send(message)
  }
}

function alive(child: ChildProcess | null): boolean {
  return child !== null && child.exitCode === null && child.signalCode === null && child.connected
}
