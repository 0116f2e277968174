/**
 * The scorer `flowscope stream` runs on each window: the batch first pass (src/infer) — the same
 * features, model, threshold and explanations — so the stream finds what `analyze --no-post` over the
 * same flows finds, within seconds of the flows arriving (see "Detection within one stream window").
 *
 * The model looks at longer windows than the stream cuts: 5 minutes sliding by 1 (from the model's
 * metadata), against stream windows of a few seconds. A stream window's flows are appended to the
 * store, then every model window that is *complete* at the stream window's end (ends at or before it)
 * and not scored yet is scored over all its flows in the store, exactly as batch computes it. For a
 * network N and a stream window [ws, we):
 *
 * - model windows ending in (scoredUntil(N), we] are new: scored, and scoredUntil(N) becomes we;
 * - when the window adds flows that start before scoredUntil(N) (a straggler window after a lease
 *   handover), the model windows holding them — ending in (lo, min(scoredUntil, hi + W)] for the new
 *   flows' starts lo..hi — are scored again with them. Flows read again (a replay) add nothing.
 *
 * scoredUntil(N) starts, in each run, at the latest flow start this stream stored for N in an earlier
 * run (every model window ending before it was scored when that flow's window committed), or at the
 * run's first flow.
 *
 * **Detection within one stream window.** The model's own windows end once a hop (1 minute): alone they
 * would report an attack up to a minute after it starts, and never one shorter than a model window at
 * the stream's end. So at every new stream window's end `we` that is not a hop boundary the scorer also
 * scores the *trailing* model window [we − W, we) — the same length, features, model and threshold,
 * at another phase (FeatureOptions.phaseUs) — for the addresses with flows in the stream window. Its
 * detections are keyed by their own window start. An attack is then flagged by the commit of the first
 * stream window that holds enough of it: one stream window plus the lateness after the evidence arrives.
 * I chose a full-length trailing window over scoring the growing partial window: every feature and the
 * calibrated threshold stay those of windows the model was trained and calibrated on, and an attack's
 * first seconds are judged against the 5 minutes of its address's traffic before them.
 *
 * What batch and the stream agree on: for every model window of the model's own hop that the stream saw
 * complete, the stream's detections are exactly batch's (`analyze --no-post`, same scores); each
 * trailing window's are what `scoreWindows` with the same phased geometry finds in batch for the
 * addresses active in its stream window (test/stream/model-scorer.test.ts). Batch has no trailing
 * windows, so the stream has more detections of the same incidents. The model windows at the very end
 * of a stream (ending after the last stream window) are never complete; the trailing window of the last
 * stream window covers the end.
 *
 * `raiseIncidents` builds the incidents of a window's detections with the batch rules
 * (src/infer/INCIDENTS.md) from the stored flows, in the window's transaction; an open incident is
 * extended by each later window.
 *
 * One transaction per window: `scoreWindow` opens it (flows, the run's `sources` row per network and
 * its counters) and the worker's commit of the window's detections and metrics closes it, through
 * `store` — the store given to `runStreamWorker` must be this scorer's `store`. A window is in the
 * store completely, with its detections, or not at all.
 *
 * Replays change nothing: detections are keyed by (network, address, model window, model), and flows
 * that start at or before the latest one already stored from this stream for their network are
 * checked against the store, only the new ones appended.
 *
 * Features see the flows of the store the scorer writes to. With several workers (lease table), each
 * has its own store and sees only its shards: a network's flows must then reach one worker, which the
 * producer's default partition key (`network`) ensures.
 */
import {randomUUID} from 'node:crypto'

import {decideIncidents, DEFAULT_HOP_SEC, DEFAULT_MODEL_WINDOW_SEC, modelId as modelIdOf, requireThreshold, resolveWindowing, scoreWindows} from '../infer/index.js'
import type {LoadedModel, WindowScores} from '../infer/index.js'
import type {FlowBatch} from '../core/index.js'
import {addToSource, FlowAppender, type FlowStore, insertSource, writeIncidents} from '../io/index.js'
import type {RaiseIncidents, ScoreContext, ScoreWindow, WindowDetection, WindowOutcome} from './results.js'
import {StreamError} from './stream-error.js'

export interface ModelScorerOptions {
  /** the stream read: names the `sources` rows (`kinesis://STREAM`) and what a replay is checked against */
  stream: string
  /** names this run's `sources` rows */
  workerId?: string
  /** only these networks are stored and scored; the others' windows return nothing */
  networks?: readonly string[]
  /** features that explain a detection (default 3, as batch) */
  topK?: number
  /** rows per model call */
  batchSize?: number
  /**
   * also score, at each stream window's end, the model window ending there for the addresses active in
   * the stream window (default true): detection within one stream window instead of one model hop
   */
  trailing?: boolean
  /** wall clock, ms */
  now?: () => number
  /** a window's detections of one network, once its transaction has committed; the worker waits for it */
  onDetections?: ((network: string, model: string, detections: readonly WindowDetection[]) => void | Promise<void>) | undefined
}

export interface ModelScorerStats {
  /** flows appended to the store */
  flowsStored: number
  /** flows already in the store (read again after a restart), not appended twice */
  flowsReplayed: number
  /** flows of networks not scored (`networks`) */
  flowsIgnored: number
  /** scoring rounds: stream windows that completed (or re-opened) at least one model window */
  rounds: number
  /** (address, model window) rows scored */
  rowsScored: number
  detections: number
  /** ms spent appending, computing features and running the model */
  storeMs: number
  featuresMs: number
  modelMs: number
}

export interface ModelScorer {
  /** to give `runStreamWorker` as `scoreWindow` */
  readonly scoreWindow: ScoreWindow
  /**
   * to give `runStreamWorker` as `raiseIncidents`: the incidents of a window's detections, decided from
   * the stored flows by the batch rules (src/infer/INCIDENTS.md), extending the open ones
   */
  readonly raiseIncidents: RaiseIncidents
  /**
   * to give `runStreamWorker` as `store`: the same store, whose `transaction` commits the window
   * transaction `scoreWindow` opened (and runs any other transaction as usual)
   */
  readonly store: FlowStore
  /** model id, as batch writes it (`modelId`) */
  readonly modelId: string
  /** model window length and hop, µs */
  readonly windowUs: number
  readonly hopUs: number
  readonly stats: Readonly<ModelScorerStats>
}

/** What the scorer knows of one network in this run. */
interface NetworkState {
  sourceId: number
  /** every model window ending at or before this was scored, µs */
  scoredUntilUs: number
  /** the latest flow start stored from this stream for the network, µs (-Infinity: none) */
  maxStoredUs: number
}

interface Appended {
  n: number
  /** start times of the flows appended, µs (Infinity, -Infinity: none) */
  loUs: number
  hiUs: number
}

/** Columns that tell one flow record from another: what a replayed record is matched on. */
const FLOW_IDENTITY = ['network', 'exporter', 'ts_start', 'ts_end', 'src_ip', 'dst_ip', 'src_port', 'dst_port', 'proto', 'tcp_flags', 'packets', 'bytes', 'sampling_rate']

export async function createModelScorer(store: FlowStore, model: LoadedModel, options: ModelScorerOptions): Promise<ModelScorer> {
  const meta = model.metadata
  requireThreshold(model)
  const id = await modelIdOf(model.path)
  const windowSec = meta.windowSec ?? DEFAULT_MODEL_WINDOW_SEC
  const hopSec = meta.hopSec ?? DEFAULT_HOP_SEC
  const {windowUs, hopUs} = resolveWindowing({windowSec, hopSec})
  const now = options.now ?? Date.now
  const sourcePath = `kinesis://${options.stream}`
  const runKey = `kinesis:${options.stream}:${options.workerId ?? 'worker'}:${now()}:${randomUUID()}`
  const only = options.networks === undefined ? undefined : new Set(options.networks)
  const topK = options.topK ?? 3
  const trailing = options.trailing ?? true
  const networks = new Map<string, NetworkState>()
  const stats: ModelScorerStats = {flowsStored: 0, flowsReplayed: 0, flowsIgnored: 0, rounds: 0, rowsScored: 0, detections: 0, storeMs: 0, featuresMs: 0, modelMs: 0}
  /** the window whose transaction is open, `start/end/straggler` */
  let open: string | undefined
  /** its detections, reported once it commits */
  let pending: Array<{network: string; detections: WindowDetection[]}> = []

  const rollback = async (): Promise<void> => {
    open = undefined
    pending = []
    // what this run learned inside the transaction (sources rows, frontiers) is gone with it
    networks.clear()
    try {
      await store.run('ROLLBACK')
    } catch {
      // already aborted by the failure being reported
    }
  }

  /** The store the worker writes through: its transaction joins the window's open one. */
  const joined = new Proxy(store, {
    get(target, property) {
      if (property === 'transaction') {
        return async <R>(fn: () => Promise<R>): Promise<R> => {
          if (open === undefined) return target.transaction(fn)
          let result: R
          try {
            result = await fn()
          } catch (error) {
            await rollback()
            throw error
          }
          open = undefined
          const committed = pending
          pending = []
          await target.run('COMMIT')
          for (const p of committed) if (p.detections.length > 0) await options.onDetections?.(p.network, id, p.detections)
          return result
        }
      }
      const value: unknown = Reflect.get(target, property, target)
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
    },
  })

  const networkState = async (network: string, firstUs: number): Promise<NetworkState> => {
    let state = networks.get(network)
    if (state) return state
    const [row] = await store.all<{max_us: bigint | null}>(
      `SELECT epoch_us(max(ts_start)) AS max_us FROM flows
       WHERE network = $1 AND source_id IN (SELECT source_id FROM sources WHERE format = 'kinesis' AND path = $2)`,
      [network, sourcePath],
    )
    const maxStoredUs = row?.max_us === null || row?.max_us === undefined ? -Infinity : Number(row.max_us)
    const sourceId = await insertSource(store, {
      path: sourcePath,
      sha256: runKey,
      format: 'kinesis',
      network,
      ingestedAtUs: Math.round(now() * 1000),
      content: 'flow-export',
    })
    state = {sourceId, scoredUntilUs: Number.isFinite(maxStoredUs) ? maxStoredUs : firstUs, maxStoredUs}
    networks.set(network, state)
    return state
  }

  /**
   * Appends the window's flows — only those not stored yet, when some may be. Returns how many were
   * appended and the range of their start times.
   */
  const appendFlows = async (flows: FlowBatch, network: string, state: NetworkState, loUs: number, hiUs: number): Promise<Appended> => {
    let added: Appended & {packets: number; bytes: number; first: number; last: number; rate: number}
    if (loUs > state.maxStoredUs) {
      const appender = await store.createFlowAppender()
      try {
        appender.append(flows, network, state.sourceId)
      } finally {
        appender.close()
      }
      added = {n: flows.length, loUs, hiUs, packets: 0, bytes: 0, first: Infinity, last: -Infinity, rate: 1}
      for (let i = 0; i < flows.length; i++) {
        added.packets += flows.packets[i] ?? 0
        added.bytes += flows.bytes[i] ?? 0
        added.first = Math.min(added.first, flows.tsStart[i] ?? Infinity)
        added.last = Math.max(added.last, flows.tsEnd[i] ?? -Infinity)
        added.rate = Math.max(added.rate, flows.samplingRate[i] || 1)
      }
    } else {
      // some of these may be in the store already: stage them, drop the ones this stream stored before
      await store.run('CREATE TEMP TABLE IF NOT EXISTS stream_flows_in AS SELECT * FROM flows WHERE false')
      await store.run('DELETE FROM stream_flows_in')
      const staged = new FlowAppender(await store.connection.createAppender('stream_flows_in', null, 'temp'))
      try {
        staged.append(flows, network, state.sourceId)
      } finally {
        staged.close()
      }
      const same = FLOW_IDENTITY.map((c) => `f.${c} IS NOT DISTINCT FROM s.${c}`).join(' AND ')
      await store.run(
        `DELETE FROM stream_flows_in s WHERE EXISTS (
           SELECT 1 FROM flows f
           WHERE f.network = $1 AND f.ts_start BETWEEN make_timestamp($2::BIGINT) AND make_timestamp($3::BIGINT)
             AND f.source_id IN (SELECT source_id FROM sources WHERE format = 'kinesis' AND path = $4) AND ${same})`,
        [network, Math.floor(loUs), Math.floor(hiUs), sourcePath],
      )
      const [r] = await store.all<{n: bigint; lo: bigint | null; hi: bigint | null; packets: number | null; bytes: number | null; first: bigint | null; last: bigint | null; rate: number | null}>(
        `SELECT count(*) AS n, epoch_us(min(ts_start)) AS lo, epoch_us(max(ts_start)) AS hi, sum(packets)::DOUBLE AS packets, sum(bytes)::DOUBLE AS bytes,
                epoch_us(min(ts_start)) AS first, epoch_us(max(ts_end)) AS last, max(sampling_rate) AS rate FROM stream_flows_in`,
      )
      added = {
        n: Number(r?.n ?? 0),
        loUs: r?.lo === null || r?.lo === undefined ? Infinity : Number(r.lo),
        hiUs: r?.hi === null || r?.hi === undefined ? -Infinity : Number(r.hi),
        packets: r?.packets ?? 0,
        bytes: r?.bytes ?? 0,
        first: r?.first === null || r?.first === undefined ? Infinity : Number(r.first),
        last: r?.last === null || r?.last === undefined ? -Infinity : Number(r.last),
        rate: r?.rate ?? 1,
      }
      if (added.n > 0) await store.run('INSERT INTO flows SELECT * FROM stream_flows_in')
      await store.run('DELETE FROM stream_flows_in')
    }
    if (added.n > 0) {
      await addToSource(store, state.sourceId, {flows: added.n, packets: added.packets, bytes: added.bytes, firstUs: added.first, lastUs: added.last, samplingRate: added.rate})
    }
    state.maxStoredUs = Math.max(state.maxStoredUs, hiUs)
    return {n: added.n, loUs: added.loUs, hiUs: added.hiUs}
  }

  /** Scores the model windows ending in (lowEndUs, highEndUs] of one network. */
  const scoreModelWindows = async (network: string, lowEndUs: number, highEndUs: number): Promise<{detections: WindowDetection[]; undetermined: string[]}> => {
    // window starts s with lowEnd < s + W <= highEnd, on multiples of the hop
    const firstStart = Math.floor((lowEndUs - windowUs) / hopUs) * hopUs + hopUs
    const lastStart = Math.floor((highEndUs - windowUs) / hopUs) * hopUs
    if (lastStart < firstStart) return {detections: [], undetermined: []}
    stats.rounds++
    const scored = await scoreWindows(store, model, {
      network,
      since: firstStart,
      until: lastStart + 1,
      topK,
      ...(options.batchSize === undefined ? {} : {batchSize: options.batchSize}),
    })
    return collect(scored)
  }

  /** A scoring round's flagged windows as the stream's detections, and the addresses it did not flag. */
  const collect = (scored: WindowScores): {detections: WindowDetection[]; undetermined: string[]} => {
    stats.featuresMs += scored.ms.features
    stats.modelMs += scored.ms.scoring
    stats.rowsScored += scored.features.length
    const detections: WindowDetection[] = scored.flagged.map((w) => ({
      address: w.address,
      windowStart: w.windowStart,
      windowEnd: w.windowStart + windowUs,
      score: w.score,
      threshold: w.threshold,
      attackType: w.explanation.attackType,
      topFeatures: w.explanation.topFeatures,
    }))
    return {detections, undetermined: scored.unflagged.map((a) => a.address)}
  }

  /**
   * Scores the model window [we − W, we) ending with the stream window [ws, we), for the addresses
   * with flows in the stream window: a tumbling geometry whose phase puts a window start at we − W.
   */
  const scoreTrailingWindow = async (network: string, windowStartUs: number, windowEndUs: number): Promise<{detections: WindowDetection[]; undetermined: string[]}> => {
    const t0 = performance.now()
    const rows = await store.all<{address: string}>(
      `SELECT DISTINCT address FROM (
         SELECT src_ip AS address FROM flows WHERE network = $1 AND ts_start >= make_timestamp($2::BIGINT) AND ts_start < make_timestamp($3::BIGINT)
         UNION ALL
         SELECT dst_ip FROM flows WHERE network = $1 AND ts_start >= make_timestamp($2::BIGINT) AND ts_start < make_timestamp($3::BIGINT))`,
      [network, Math.floor(windowStartUs), Math.floor(windowEndUs)],
    )
    stats.featuresMs += performance.now() - t0
    if (rows.length === 0) return {detections: [], undetermined: []}
    const startUs = windowEndUs - windowUs
    stats.rounds++
    const scored = await scoreWindows(store, model, {
      network,
      since: startUs,
      until: startUs + 1,
      geometry: {hopSec: windowUs / 1e6, phaseUs: startUs},
      addresses: rows.map((r) => String(r.address)),
      topK,
      ...(options.batchSize === undefined ? {} : {batchSize: options.batchSize}),
    })
    return collect(scored)
  }

  const scoreWindow: ScoreWindow = async (flows: FlowBatch, windowStartUs: number, windowEndUs: number, context: ScoreContext): Promise<WindowOutcome> => {
    const empty: WindowOutcome = {model: id, detections: [], undetermined: []}
    const network = context.network
    if (only !== undefined && !only.has(network)) {
      stats.flowsIgnored += flows.length
      return empty
    }
    if (flows.length === 0) return empty
    const key = `${windowStartUs}/${windowEndUs}/${context.straggler ?? ''}`
    if (open !== undefined && open !== key) {
      await rollback()
      throw new StreamError('the model scorer’s window transaction was never committed', {
        hint: 'give runStreamWorker the scorer’s store (scorer.store), whose transaction commits it',
      })
    }
    let loUs = Infinity
    let hiUs = -Infinity
    for (let i = 0; i < flows.length; i++) {
      const ts = flows.tsStart[i]!
      if (ts < loUs) loUs = ts
      if (ts > hiUs) hiUs = ts
    }
    if (open === undefined) {
      await store.run('BEGIN TRANSACTION')
      open = key
    }
    try {
      const t0 = performance.now()
      const state = await networkState(network, loUs)
      const added = await appendFlows(flows, network, state, loUs, hiUs)
      stats.flowsStored += added.n
      stats.flowsReplayed += flows.length - added.n
      stats.storeMs += performance.now() - t0
      // new model windows end in (scoredUntil, we]; those holding new flows before scoredUntil are redone
      // (flows read again change no window)
      const lowEndUs = Math.min(state.scoredUntilUs, added.loUs)
      const fresh = windowEndUs > state.scoredUntilUs
      const highEndUs = fresh ? windowEndUs : Math.min(state.scoredUntilUs, added.hiUs + windowUs)
      const result = await scoreModelWindows(network, lowEndUs, highEndUs)
      // the trailing model window, ending with this stream window, when it is not one of the model's own
      if (trailing && fresh && context.straggler === undefined && added.n > 0 && windowEndUs % hopUs !== 0) {
        const more = await scoreTrailingWindow(network, windowStartUs, windowEndUs)
        result.detections.push(...more.detections)
        result.undetermined = [...new Set([...result.undetermined, ...more.undetermined])]
      }
      state.scoredUntilUs = Math.max(state.scoredUntilUs, windowEndUs)
      stats.detections += result.detections.length
      if (options.onDetections) pending.push({network, detections: result.detections})
      return {model: id, ...result}
    } catch (error) {
      await rollback()
      throw error
    }
  }

  const raiseIncidents: RaiseIncidents = async (target, detections, runId) =>
    (await writeIncidents(target, detections, {decide: decideIncidents, ...(runId === undefined ? {} : {runId})})).written

  return {scoreWindow, raiseIncidents, store: joined, modelId: id, windowUs, hopUs, stats}
}
