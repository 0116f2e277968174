/**
 * A capture's flow records, released at the capture's own pace (sped up): what `stream put` sends.
 * Flows are assembled from packets (or decoded from the NetFlow/IPFIX/sFlow datagrams the capture
 * carries), by the same CaptureFlows as ingest; each is released when wall time, scaled by `speed`, reaches its time:
 *
 * - `order: 'start'` (default): the flow's first packet. The whole capture's flows are read first
 *   and sorted, so the stream is in event-time order and windows on the consumer side are complete
 *   (the same windows batch analysis sees). Memory: about 100 bytes per flow.
 * - `order: 'end'`: the flow's last packet, when an exporter would send it; streamed without reading
 *   ahead. Flows longer than the consumer's allowed lateness then arrive late for their window.
 */
import {CaptureFlows} from '../io/index.js'
import type {FlowBatch} from '../core/index.js'
import {sleep as realSleep} from './aws.js'
import {FlowBatchBuilder} from './flow-builder.js'

export interface ReplayOptions {
  /** how many times faster than the capture (default 1; Infinity: no pacing) */
  speed?: number
  /** release flows by their start (default, read ahead and sorted) or their end (export time) */
  order?: 'start' | 'end'
  /** flows from packets or from export datagrams (default: detected like ingest's 'auto') */
  decode?: 'auto' | 'packets' | 'exports'
  idleTimeoutSec?: number
  activeTimeoutSec?: number
  /** largest batch yielded (default 1000 flows) */
  maxBatch?: number
  signal?: AbortSignal
  /** ms clock (default performance.now) */
  now?: () => number
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>
}

export async function* replayCapture(file: string, options: ReplayOptions = {}): AsyncGenerator<FlowBatch> {
  const speed = options.speed ?? 1
  if (!(speed > 0)) throw new RangeError(`speed must be positive, got ${speed}`)
  const now = options.now ?? (() => performance.now())
  const pause = options.sleep ?? realSleep
  const maxBatch = Math.max(1, options.maxBatch ?? 1000)
  const signal = options.signal
  const mode = options.decode ?? 'auto'
  let t0Capture: number | undefined
  let t0Wall = 0
  const all = new FlowBatchBuilder(1024)
  const collect = (batch: FlowBatch): void => {
    all.reserve(batch.length)
    for (let i = 0; i < batch.length; i++) all.appendRow(batch, i, '')
  }

  const byStart = (options.order ?? 'start') === 'start'
  async function* pace(batch: FlowBatch): AsyncGenerator<FlowBatch> {
    const time = byStart ? batch.tsStart : batch.tsEnd
    const order = Array.from({length: batch.length}, (_, i) => i).sort((a, b) => time[a]! - time[b]!)
    let out = new FlowBatchBuilder(Math.min(maxBatch, batch.length))
    for (const i of order) {
      if (signal?.aborted) return
      const ts = time[i]!
      if (t0Capture === undefined) {
        t0Capture = ts
        t0Wall = now()
      }
      const due = Number.isFinite(speed) ? t0Wall + (ts - t0Capture) / 1000 / speed : -Infinity
      const wait = due - now()
      if (wait > 0 || out.length >= maxBatch) {
        if (out.length > 0) {
          yield out.view()
          out = new FlowBatchBuilder(Math.min(maxBatch, batch.length))
        }
        if (wait > 0) await pause(wait, signal)
      }
      out.appendRow(batch, i, '')
    }
    if (out.length > 0) yield out.view()
  }

  const capture = new CaptureFlows(file, {
    decode: mode,
    ...(options.idleTimeoutSec === undefined ? {} : {idleTimeoutMicros: options.idleTimeoutSec * 1e6}),
    ...(options.activeTimeoutSec === undefined ? {} : {activeTimeoutMicros: options.activeTimeoutSec * 1e6}),
  })
  for await (const ready of capture.batches()) {
    for (const batch of ready) {
      if (byStart) collect(batch)
      else yield* pace(batch)
    }
    if (signal?.aborted) return
  }
  if (byStart) yield* pace(all.view())
}
