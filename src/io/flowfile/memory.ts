/**
 * Bounded memory for a flow-file ingest. The file is staged in DuckDB temporary tables (one typed row
 * per record, then the resolved flows) and sorted into `flows`; DuckDB keeps all of that in memory up
 * to its memory limit, 80 % of the RAM by default, so a 1.8M-row file took 1.6 GB. For the ingest the
 * limit is lowered to flowFileMemoryLimit() (and the threads to FLOW_FILE_MAX_THREADS): past it DuckDB
 * spills the staging and the sort to the store's temporary folder (`<store>.tmp` next to the store,
 * which DuckDB creates when it first spills, empties as the staging is dropped and removes when the
 * store closes; a run killed with -9 leaves its files there and the next run on that store reuses them). The allocator is told to give freed memory
 * back sooner too. Both settings are put back afterwards: the same connection serves other jobs.
 *
 * A memory store (`:memory:`) is left alone: its data is in RAM anyway, and its temporary folder would
 * be `.tmp` in the working directory.
 */
import type {FlowStore} from '../store/index.js'

/**
 * DuckDB's buffer memory during a flow-file ingest, by its thread count: each thread of the staging
 * queries holds its own buffers (a 2-thread ingest fails below ~90 MiB, a 4-thread one below ~150).
 * The process peaks about 170 MB above it (node, DuckDB's code, memory DuckDB does not count).
 */
export function flowFileMemoryLimit(threads: number): number {
  return Math.max(96, 40 * threads) * 2 ** 20
}
/**
 * At most this many DuckDB threads during the ingest, so that the limit stays bounded. One: measured on
 * 2 cores (issue #20), a second thread read a 600k-row CSV no faster (7.3–7.8 s against 6.9–7.6 s) and a
 * gzip CSV, which DuckDB decompresses on one thread anyway, no faster either, while the peak RSS rose
 * to 272–323 MB, past the 300 MB bound the issue sets. At 64 MiB one thread ran out of memory on a
 * loaded machine; at 96 MiB it did not, and peaked at 262–266 MB.
 */
export const FLOW_FILE_MAX_THREADS = 1
/** freed memory above this goes back to the system after each task (DuckDB's default is 128 MiB) */
const ALLOCATOR_FLUSH_THRESHOLD = 16 * 2 ** 20

const UNITS: Record<string, number> = {
  b: 1, byte: 1, bytes: 1,
  kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12,
  kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40,
}

/** DuckDB's way of showing a size ("18.8 GiB", "976.5 KiB", "0 bytes") in bytes; NaN when unknown. */
export function parseDuckDbSize(text: string): number {
  const m = /^\s*([\d.]+)\s*([a-z]*)\s*$/i.exec(text)
  if (!m) return Number.NaN
  const unit = UNITS[(m[2] || 'b').toLowerCase()]
  return unit === undefined ? Number.NaN : Number(m[1]) * unit
}

interface Settings {
  memory_limit: string
  allocator_flush_threshold: string
  temp_directory: string
  threads: string
}

async function settings(store: FlowStore): Promise<Settings> {
  const [s] = await store.all<Settings>(
    `SELECT current_setting('memory_limit') AS memory_limit, current_setting('allocator_flush_threshold') AS allocator_flush_threshold,
       current_setting('temp_directory') AS temp_directory, current_setting('threads')::VARCHAR AS threads`,
  )
  return s!
}

/** Puts a setting back as it was: RESET when it was the default, the old value otherwise. */
async function restore(store: FlowStore, name: keyof Settings, old: string): Promise<void> {
  await store.run(`RESET ${name}`)
  const now = (await settings(store))[name]
  if (now !== old) await store.run(`SET ${name} = '${old.replaceAll("'", "''")}'`)
}

/** the limit may grow to this many times flowFileMemoryLimit() when DuckDB runs out of it (96 → 192 → 384 MiB) */
const OUT_OF_MEMORY_RETRIES_FACTOR = 4

function isOutOfMemory(error: unknown): boolean {
  return error instanceof Error && /Out of Memory Error/.test(error.message)
}

/** Runs `fn` (one flow-file ingest) with DuckDB's memory bounded, and puts the settings back after. */
export async function withFlowFileMemory<R>(store: FlowStore, fn: () => Promise<R>): Promise<R> {
  if (store.path === ':memory:' || store.readOnly) return fn()
  const old = await settings(store)
  const threads = Math.min(Number(old.threads), FLOW_FILE_MAX_THREADS)
  const limit = flowFileMemoryLimit(threads)
  // no temporary folder: nothing can spill, and a lower limit would only make the ingest fail
  if (old.temp_directory === '' || !(parseDuckDbSize(old.memory_limit) > limit) || !(threads >= 1)) return fn()
  await store.run(`SET memory_limit = '${limit}B'`)
  await store.run(`SET allocator_flush_threshold = '${ALLOCATOR_FLUSH_THRESHOLD}B'`)
  if (threads < Number(old.threads)) await store.run(`SET threads = ${threads}`)
  try {
    // DuckDB cannot always spill what it has pinned (at 64 MiB on a loaded machine a 600k-row CSV ran
    // out of it every time, on an idle one never): an ingest that ran out of its bounded memory stored
    // nothing (all or nothing), so it is run again with twice the limit, up to 4x or the store's own
    const ceiling = parseDuckDbSize(old.memory_limit)
    for (let attempt = limit; ; attempt *= 2) {
      try {
        return await fn()
      } catch (error) {
        if (!isOutOfMemory(error) || attempt * 2 > Math.min(ceiling, limit * OUT_OF_MEMORY_RETRIES_FACTOR)) throw error
        await store.run(`SET memory_limit = '${attempt * 2}B'`)
      }
    }
  } finally {
    await restore(store, 'memory_limit', old.memory_limit)
    await restore(store, 'allocator_flush_threshold', old.allocator_flush_threshold)
    await restore(store, 'threads', old.threads)
  }
}
