import {createHash} from 'node:crypto'
import {existsSync} from 'node:fs'
import {open, stat} from 'node:fs/promises'
import path from 'node:path'
import {Worker} from 'node:worker_threads'

import {CaptureFormatError, FlowscopeError, InputDataError} from '../../core/index.js'
import {contentHashFile} from './content-hash.js'
import {startHashThread} from './file-hash.js'
import {sniffIngestKind} from './ingest-kind.js'
import type {PendingHash} from './file-hash.js'
import type {DecodeJob, DecodeOutcome} from './decode-job.js'
import {DEFAULT_ACTIVE_TIMEOUT_SEC, DEFAULT_IDLE_TIMEOUT_SEC, flowBatchBuffers} from '../../core/index.js'
import type {FlowBatch} from '../../core/index.js'
import type {FlowExportProblem} from '../flowexport/index.js'
import type {FromIngestWorker, ToIngestWorker} from './ingest-worker.js'
import {findSource, insertSource, nextSourceId} from '../store/index.js'
import type {FlowStore, StoredSource} from '../store/index.js'
import {workerEntry} from '../../core/index.js'

export interface IngestOptions {
  /** tenant label stored with every flow */
  network: string
  skipBad?: boolean
  idleTimeoutSec?: number
  activeTimeoutSec?: number
  /** bytes of the file consumed so far, and its size */
  onProgress?: (bytesRead: number, size: number) => void
  now?: () => Date
  /**
   * What to make flows from: 'packets' assembles flows from every packet; 'exports' decodes the
   * NetFlow/IPFIX/sFlow datagrams the capture carries; 'auto' (default) picks 'exports' when export
   * datagrams are at least half of the UDP packets at the start of the file.
   */
  decode?: DecodeMode
  /** files from this size up are hashed in a thread of their own (default 64 MiB) */
  hashThreadMinBytes?: number
  /** the decoding of this file, started by `prefetchCapture` before the store was open */
  prefetched?: PrefetchedCapture
  /**
   * called once the file is decoded and its decoding thread is free, before its flows are committed:
   * the CLI starts decoding the next capture then, so that decoding overlaps this file's commit
   */
  onDecoded?: () => void
}

export const DECODE_MODES = ['auto', 'packets', 'exports'] as const
export type DecodeMode = (typeof DECODE_MODES)[number]

export interface FlowExportSummary {
  datagrams: number
  records: number
  /** packets that were not export datagrams */
  otherPackets: number
  templates: number
  undecodableSets: number
  malformed: number
  problems: FlowExportProblem[]
  samplingRates: number[]
}

export interface IngestResult {
  file: string
  status: 'ingested' | 'unchanged'
  /** flows assembled from packets, or records decoded from flow-export datagrams */
  content: 'packets' | 'flow-export'
  sourceId: number
  format: string
  /** BLAKE3 of the file's content (hex), its identity in `sources` */
  blake3: string
  sizeBytes: number
  packets: number
  flows: number
  /** IP bytes of all flows */
  bytes: number
  badRecords: number
  nonIpPackets: number
  undecodablePackets: number
  fragments: number
  tsFirst: string | null
  tsLast: string | null
  seconds: number
  packetsPerSec: number
  flowsPerSec: number
  flowExport?: FlowExportSummary
}

/**
 * Ingest one capture file as one transaction: its flows and its `sources` row are committed together,
 * or — on any error — nothing is, and the store is as it was. The same content ingested again into
 * the same network is a no-op reported as `unchanged`.
 */
export async function ingestCapture(store: FlowStore, file: string, options: IngestOptions): Promise<IngestResult> {
  const started = performance.now()
  const pre = options.prefetched?.file === file ? options.prefetched : undefined
  let run = pre?.run
  try {
    const {size, headSha256} = pre ?? (await fingerprint(file))
    // Dedup by content without a second read of new files: a cheap fingerprint (size and the hash of
    // the first MiB) finds candidates; only then is the whole file hashed up front. New files are
    // hashed in the same pass that parses them.
    const candidates = await store.all<{n: bigint}>(
      'SELECT count(*) AS n FROM sources WHERE size = $1 AND head_sha256 = $2 AND network = $3',
      [size, headSha256, options.network],
    )
    if (Number(candidates[0]?.n ?? 0) > 0) {
      await run?.cancel()
      run = undefined
      const blake3 = await contentHashFile(file)
      const prior = await findSource(store, file, size, blake3, options.network)
      if (prior) return unchanged(file, blake3, size, prior, started)
    }
    run ??= startDecode(file, size, options)
    return await appendDecoded(store, file, size, headSha256, run, options, started)
  } finally {
    await run?.cancel()
  }
}

/**
 * Start decoding a capture before the store is open (the CLI overlaps this with loading DuckDB): the
 * decoder runs ahead by a few batches and waits. Hand the result to `ingestCapture` as
 * `options.prefetched`, or `cancel` it.
 */
export async function prefetchCapture(file: string, options: Omit<IngestOptions, 'prefetched' | 'onProgress' | 'onDecoded'>): Promise<PrefetchedCapture> {
  const f = await fingerprint(file)
  return {file, ...f, run: startDecode(file, f.size, options)}
}

/**
 * Captures decoded ahead of their ingest, one at a time: `ahead(file)` starts decoding `file` when it
 * is a capture (a flow file, or one that cannot be read, is left to its own ingest, which reports any
 * problem), and `take(file)` hands that decoding to the ingest of `file` as `options.prefetched`. The
 * CLI starts the first capture while the store opens, and each next one from the previous ingest's
 * `onDecoded`, so that its decoding overlaps the previous commit.
 */
export class CaptureLookahead {
  private pending: {file: string; sniffed: Promise<SniffedCapture>} | undefined

  constructor(
    private readonly options: Omit<IngestOptions, 'prefetched' | 'onProgress' | 'onDecoded'>,
    /** what the files are: 'auto' (sniffed), 'capture', or a flow-file format (never decoded ahead) */
    private readonly format: string = 'auto',
  ) {}

  /** Start decoding `file` unless another file is already waiting. */
  ahead(file: string): void {
    this.pending ??= {file, sniffed: this.start(file)}
  }

  /** The decoding started for `file`, if any; the caller owns it from here (cancel it if unused). */
  async take(file: string): Promise<PrefetchedCapture | undefined> {
    return (await this.takeSniffed(file)).prefetched
  }

  /**
   * `take`, with what the file was sniffed as on the way (undefined when it was not sniffed, or could
   * not be read): an ingest given the kind need not read the file's first bytes again.
   */
  async takeSniffed(file: string): Promise<SniffedCapture> {
    const p = this.pending
    if (p?.file !== file) return {}
    this.pending = undefined
    return p.sniffed
  }

  /** Stop whatever is decoding ahead. */
  async cancel(): Promise<void> {
    const p = this.pending
    this.pending = undefined
    await (await p?.sniffed)?.prefetched?.run.cancel()
  }

  private async start(file: string): Promise<SniffedCapture> {
    const kind = this.format === 'capture' ? 'capture' : this.format === 'auto' ? await sniffIngestKind(file).catch(() => undefined) : undefined
    if (kind !== 'capture') return kind === undefined ? {} : {kind}
    const prefetched = await prefetchCapture(file, this.options).catch(() => undefined)
    return prefetched ? {kind, prefetched} : {kind}
  }
}

/** What `CaptureLookahead.takeSniffed` knows of a file: its kind when sniffed, its decoding when started. */
export interface SniffedCapture {
  kind?: 'capture' | 'flow-file'
  prefetched?: PrefetchedCapture
}

export interface PrefetchedCapture {
  file: string
  size: number
  headSha256: string
  run: DecodeRun
}

async function fingerprint(file: string): Promise<{size: number; headSha256: string}> {
  const size = await regularFileSize(file)
  return {size, headSha256: await sha256Head(file, HEAD_BYTES)}
}

/** The size of an input file, or an InputDataError naming it when it is missing or not a regular file. */
export async function regularFileSize(file: string): Promise<number> {
  try {
    const st = await stat(file)
    if (!st.isFile()) throw new InputDataError(`${file}: not a regular file`)
    return st.size
  } catch (error) {
    if (error instanceof InputDataError) throw error
    throw new InputDataError(`${file}: cannot read: ${(error as Error).message}`, {cause: error})
  }
}

function startDecode(file: string, size: number, options: Omit<IngestOptions, 'prefetched'>): DecodeRun {
  // a big file is hashed in a thread of its own, beside the decoding (small ones: in the decoding pass)
  const hash = size >= (options.hashThreadMinBytes ?? SEPARATE_HASH_MIN_BYTES) && ingestThreads() ? startHashThread(file) : undefined
  const job: DecodeJob = {
    file,
    skipBad: options.skipBad ?? false,
    idleTimeoutMicros: (options.idleTimeoutSec ?? DEFAULT_IDLE_TIMEOUT_SEC) * 1e6,
    activeTimeoutMicros: (options.activeTimeoutSec ?? DEFAULT_ACTIVE_TIMEOUT_SEC) * 1e6,
    decode: options.decode ?? 'auto',
    hashInline: !hash,
  }
  return new DecodeRun(job, hash)
}

async function appendDecoded(
  store: FlowStore,
  file: string,
  size: number,
  headSha256: string,
  run: DecodeRun,
  options: IngestOptions,
  started: number,
): Promise<IngestResult> {
  let maxRate = 1
  const totals = {flows: 0, bytes: 0, tsFirst: Infinity, tsLast: -Infinity}

  // The flows of one ingest wait in DuckDB's transaction-local storage until the commit; a modest memory
  // limit makes DuckDB write them out as it goes instead of holding them all (flat memory on big files).
  // One DuckDB thread: the appends run on this thread anyway, and a second one only polled DuckDB's
  // task queue beside them (~0.7 s of CPU on a 10-million-packet capture, with nothing gained).
  const [limit] = await store.all<{m: string; t: number}>("SELECT current_setting('memory_limit') AS m, current_setting('threads')::INTEGER AS t")
  await store.run(`SET memory_limit = '${INGEST_MEMORY_LIMIT}'`)
  await store.run('SET threads = 1')
  try {
    return await store.transaction(async () => {
    const id = await nextSourceId(store)
    const appender = await store.createFlowAppender()
    const sink = (batches: FlowBatch[]): void => {
      for (const b of batches) {
        try {
          appender.append(b, options.network, id)
        } catch (error) {
          throw error instanceof InputDataError ? new InputDataError(`${file}: ${error.message}`, {cause: error}) : error
        }
        totals.flows += b.length
        for (let i = 0; i < b.length; i++) {
          if ((b.samplingRate[i] ?? 1) > maxRate) maxRate = b.samplingRate[i] ?? 1
          totals.bytes += b.bytes[i] ?? 0
          const s = b.tsStart[i] ?? 0
          const e = b.tsEnd[i] ?? 0
          if (s < totals.tsFirst) totals.tsFirst = s
          if (e > totals.tsLast) totals.tsLast = e
        }
      }
    }
    let outcome: DecodeOutcome
    try {
      const onProgress = options.onProgress
      outcome = await run.consume(sink, onProgress ? (n) => onProgress(n, size) : undefined)
    } finally {
      appender.close()
    }
    run.release()
    options.onDecoded?.()
    const readStats = outcome.readStats
    if (run.hash && (await stat(file)).size !== size) {
      throw new InputDataError(`${file}: the file changed size while it was being ingested`, {hint: 'ingest a capture once it is complete (rotate, then ingest the closed file)'})
    }
    const blake3 = run.hash ? await run.hash.digest : outcome.contentHash
    const prior = await findSource(store, file, size, blake3, options.network)
    if (prior) throw new AlreadyStored(unchanged(file, blake3, size, prior, started))
    const collected = outcome.collector
    const a = outcome.assembler
    const tsFirst = Number.isFinite(totals.tsFirst) ? totals.tsFirst : null
    const tsLast = Number.isFinite(totals.tsLast) ? totals.tsLast : null
    const now = options.now?.() ?? new Date()
    await insertSource(store, {
      sourceId: id,
      path: path.resolve(file),
      size,
      blake3,
      format: readStats.format ?? 'unknown',
      network: options.network,
      packets: readStats.records,
      flows: totals.flows,
      bytes: totals.bytes,
      skipped: readStats.badRecords,
      tsFirstUs: tsFirst === null ? null : Math.floor(tsFirst),
      tsLastUs: tsLast === null ? null : Math.floor(tsLast),
      samplingRate: maxRate,
      ingestedAtUs: now.getTime() * 1000,
      content: collected ? 'flow-export' : 'packets',
      headSha256,
    })
    const seconds = (performance.now() - started) / 1000
    return {
      file,
      blake3,
      sizeBytes: size,
      status: 'ingested' as const,
      content: collected ? ('flow-export' as const) : ('packets' as const),
      sourceId: id,
      format: readStats.format ?? 'unknown',
      packets: readStats.records,
      flows: totals.flows,
      bytes: totals.bytes,
      badRecords: readStats.badRecords,
      nonIpPackets: a.nonIp,
      undecodablePackets: a.undecodable,
      fragments: a.fragments,
      tsFirst: tsFirst === null ? null : new Date(tsFirst / 1000).toISOString(),
      tsLast: tsLast === null ? null : new Date(tsLast / 1000).toISOString(),
      seconds,
      packetsPerSec: seconds > 0 ? readStats.records / seconds : 0,
      flowsPerSec: seconds > 0 ? totals.flows / seconds : 0,
      ...(collected
        ? {
            flowExport: {
              datagrams: collected.exportDatagrams,
              records: collected.records,
              otherPackets: collected.otherPackets,
              templates: collected.templates,
              undecodableSets: collected.undecodableSets,
              malformed: collected.malformed,
              problems: collected.problems,
              samplingRates: collected.samplingRates,
            },
          }
        : {}),
    }
  })
  } catch (error) {
    if (error instanceof AlreadyStored) return error.result
    throw error
  } finally {
    if (limit) {
      await store.run(`SET memory_limit = '${limit.m.replace(/[^0-9A-Za-z. ]/g, '')}'`)
      await store.run(`SET threads = ${Math.max(1, Math.floor(Number(limit.t)) || 1)}`)
    }
  }
}

const INGEST_MEMORY_LIMIT = (process.env.FLOWSCOPE_INGEST_MEMORY ?? '128MB').replace(/[^0-9A-Za-z. ]/g, '')

const HEAD_BYTES = 1 << 20

/** Files from this size up are hashed in a thread of their own (a thread costs ~30 ms to start). */
const SEPARATE_HASH_MIN_BYTES = 64 << 20

function ingestThreads(): boolean {
  return process.env.FLOWSCOPE_INGEST_THREADS !== '0' && existsSync(ingestWorkerPath())
}

/** Thrown inside the ingest transaction to roll it back when the content turns out to be stored already. */
class AlreadyStored extends Error {
  constructor(readonly result: IngestResult) {
    super('already stored')
  }
}

function unchanged(file: string, blake3: string, size: number, prior: StoredSource, started: number): IngestResult {
  return {
    file,
    blake3,
    sizeBytes: size,
    status: 'unchanged',
    content: prior.content === 'flow-export' ? 'flow-export' : 'packets',
    sourceId: prior.source_id,
    format: prior.format,
    packets: Number(prior.packets),
    flows: Number(prior.flows),
    bytes: Number(prior.bytes),
    badRecords: 0,
    nonIpPackets: 0,
    undecodablePackets: 0,
    fragments: 0,
    tsFirst: null,
    tsLast: null,
    seconds: (performance.now() - started) / 1000,
    packetsPerSec: 0,
    flowsPerSec: 0,
  }
}

async function sha256Head(file: string, bytes: number): Promise<string> {
  const fh = await open(file, 'r')
  try {
    const buf = new Uint8Array(bytes)
    const {bytesRead} = await fh.read(buf, 0, bytes, 0)
    return createHash('sha256').update(buf.subarray(0, bytesRead)).digest('hex')
  } finally {
    await fh.close()
  }
}


/**
 * The decoding of one capture: in a worker thread when the compiled worker is there (the CLI, and
 * tests after a build), so parsing and the DuckDB appends overlap; in-line otherwise. The worker
 * starts at once and runs ahead by at most `CREDITS` batches until `consume` is called; batches then
 * reach the sink in order.
 */
export class DecodeRun {
  private readonly worker: Worker | undefined
  private readonly queue: FlowBatch[] = []
  private sink: ((batches: FlowBatch[]) => void) | undefined
  private onProgress: ((bytesRead: number) => void) | undefined
  private readonly outcome: Promise<DecodeOutcome> | undefined
  private failed: ((error: unknown) => void) | undefined
  /** the job is done and consumed without a fault: the worker may decode the next capture */
  private reusable = false
  /** the worker was parked or terminated: this run no longer owns it */
  private released = false
  private detach: (() => void) | undefined
  /** bytes read as last reported (the worker may report before `consume` is called) */
  private bytesRead = 0

  constructor(
    private readonly job: DecodeJob,
    readonly hash: PendingHash | undefined,
  ) {
    if (!ingestThreads()) return
    const worker = takeDecodeWorker()
    this.worker = worker
    this.outcome = new Promise<DecodeOutcome>((resolve, reject) => {
      this.failed = reject
      const onMessage = (m: FromIngestWorker): void => {
        try {
          if (m.type === 'batch') this.deliver(m.batch)
          else if (m.type === 'progress') {
            this.bytesRead = m.bytesRead
            this.onProgress?.(m.bytesRead)
          } else if (m.type === 'done') resolve(m.outcome)
          else reject(reviveError(job.file, m.error))
        } catch (error) {
          reject(error)
        }
      }
      const onExit = (code: number): void => reject(new Error(`the ingest worker exited (${code}) before it finished`))
      worker.on('message', onMessage)
      worker.on('error', reject)
      worker.on('exit', onExit)
      this.detach = () => {
        worker.off('message', onMessage)
        worker.off('error', reject)
        worker.off('exit', onExit)
      }
    })
    this.outcome.catch(() => undefined) // observed by `consume`; never unhandled when cancelled
    worker.postMessage({type: 'job', job} satisfies ToIngestWorker)
  }

  /** The decoding thread's id (-1 when decoding in-line). */
  get threadId(): number {
    return this.worker?.threadId ?? -1
  }

  /** Hand every batch to `sink`, in order; resolves when the whole file is decoded. */
  async consume(sink: (batches: FlowBatch[]) => void, onProgress?: (bytesRead: number) => void): Promise<DecodeOutcome> {
    if (!this.outcome) {
      // in-line (no compiled worker): the decoders load only here, not on the CLI's main thread
      const {runDecodeJob} = await import('./decode-job.js')
      return runDecodeJob(this.job, {onBatches: (b) => sink(b), ...(onProgress ? {onProgress} : {})})
    }
    this.onProgress = onProgress
    this.sink = sink
    // what the worker read before anyone consumed (it runs ahead while the store opens)
    if (this.bytesRead > 0) onProgress?.(this.bytesRead)
    try {
      for (const b of this.queue.splice(0)) this.deliver(b)
    } catch (error) {
      // the worker may have finished already (a small capture, decoded while the store opened), and
      // then rejecting the outcome would do nothing: the error must still fail the ingest
      this.failed?.(error)
      throw error
    }
    const outcome = await this.outcome
    // every batch delivered and handed back: the worker is idle, and may decode the next capture
    this.reusable = true
    return outcome
  }

  /** Once the job is consumed: hand the decoding thread on to the next capture (the hash thread may still run). */
  release(): void {
    if (!this.worker || !this.reusable || this.released) return
    this.released = true
    this.detach?.()
    parkDecodeWorker(this.worker)
  }

  /** Stop the decoding (a worker whose job is done is kept for the next capture instead). */
  async cancel(): Promise<void> {
    const worker = this.worker
    if (worker && !this.released) {
      this.released = true
      this.detach?.()
      if (this.reusable) parkDecodeWorker(worker)
      else await worker.terminate()
    }
    await this.hash?.cancel()
  }

  private deliver(batch: FlowBatch): void {
    if (!this.sink) {
      this.queue.push(batch)
      return
    }
    this.sink([batch])
    // the sink copied what it keeps: a capture's batch goes back to the worker to be filled again
    // (flow-export batches carry exporter texts, not worth sending back)
    if (batch.exporter.length === 0) this.worker?.postMessage({type: 'credit', batch} satisfies ToIngestWorker, flowBatchBuffers(batch))
    else this.worker?.postMessage({type: 'credit'} satisfies ToIngestWorker)
  }
}

/**
 * A decoding worker whose job is done waits here for the next capture of the same process: a new
 * worker would load and compile the decoder again (about 0.1 s of CPU at the start of every capture,
 * most of it on the decoding thread, which sets an ingest's pace). Unreferenced while it waits, so it
 * never keeps the process alive.
 */
let parkedWorker: Worker | undefined

function takeDecodeWorker(): Worker {
  const w = parkedWorker
  parkedWorker = undefined
  if (!w) return new Worker(ingestWorkerPath())
  w.off('exit', forgetParked)
  w.ref()
  return w
}

function parkDecodeWorker(w: Worker): void {
  if (parkedWorker) {
    void w.terminate()
    return
  }
  parkedWorker = w
  w.unref()
  w.once('exit', forgetParked)
}

function forgetParked(): void {
  parkedWorker = undefined
}

function ingestWorkerPath(): string {
  return workerEntry('io/ingest/ingest-worker.js')
}

function reviveError(file: string, e: Extract<FromIngestWorker, {type: 'error'}>['error']): Error {
  if (e.code === 'CAPTURE_FORMAT' && e.offset !== undefined) {
    const prefix = `${e.file ?? file}: byte offset ${e.offset}: `
    return new CaptureFormatError(e.file ?? file, e.offset, e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message, e.hint === undefined ? {} : {hint: e.hint})
  }
  if (e.code !== undefined && e.exitCode !== undefined) {
    return new FlowscopeError(e.code as ConstructorParameters<typeof FlowscopeError>[0], e.message, e.exitCode, e.hint === undefined ? {} : {hint: e.hint})
  }
  return Object.assign(new Error(e.message), {name: e.name})
}
