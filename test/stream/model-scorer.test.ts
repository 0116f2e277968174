/**
 * The stream's model scorer against the batch first pass: a generated capture with attacks, its flows
 * put on a kinesalite stream (127.0.0.1) and scored window by window, gives the same detections as
 * ingesting the capture and running `runFirstPass` — for every model window the stream saw complete —
 * and, for the model window ending with each stream window, what `scoreWindows` finds in batch.
 * Reading the stream again into the same store changes nothing.
 */
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {bundledModelPath, closeModel, loadModel, runFirstPass, scoreWindows, type LoadedModel} from '../../src/infer/index.js'
import {generateTraffic} from '../../src/gen/index.js'
import {ingestCapture} from '../../src/io/ingest/ingest.js'
import {FlowStore} from '../../src/io/store/store.js'
import {
  createKinesisClient,
  createModelScorer,
  putFlows,
  replayCapture,
  runStreamWorker,
  startLocalKinesis,
  type LocalServer,
  type StreamRunSummary,
  type WindowReport,
} from '../../src/stream/index.js'
import {createStream, waitFor} from './helpers.js'

let kinesalite: LocalServer
let kinesis: ReturnType<typeof createKinesisClient>
let model: LoadedModel
let dir: string
let capture: string
const NETWORK = 'lab'

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'flowscope-scorer-'))
  capture = path.join(dir, 'g.pcap')
  // the same capture as `flowscope gen --packets 20000 --seed 5`: 15 minutes, every attack kind
  await generateTraffic({out: capture, packets: 20_000, seed: 5})
  kinesalite = await startLocalKinesis()
  kinesis = createKinesisClient({endpoint: kinesalite.endpoint, requestTimeoutMs: 5_000, maxAttempts: 1})
  model = await loadModel(bundledModelPath())
}, 30_000)

afterAll(async () => {
  kinesis?.destroy()
  await kinesalite?.close()
  if (model) await closeModel(model)
  rmSync(dir, {recursive: true, force: true})
})

interface Row {
  key: string
  score: number
  kind: string
  features: string
}

async function detections(store: FlowStore, pass: string, maxEndUs = Infinity): Promise<Row[]> {
  const rows = await store.all<{network: string; address: string; ws: bigint; we: bigint; model: string; score: number; attack_type: string; f: string}>(
    `SELECT network, address, epoch_us(window_start) AS ws, epoch_us(window_end) AS we, model, score, attack_type, top_features::VARCHAR AS f
     FROM detections WHERE pass = $1 ORDER BY network, address, window_start`,
    [pass],
  )
  return rows
    .filter((r) => Number(r.we) <= maxEndUs)
    .map((r) => ({key: `${r.network}|${r.address}|${Number(r.ws)}|${r.model}`, score: r.score, kind: r.attack_type, features: r.f}))
}

/** Runs a worker over the whole stream from its start (or its checkpoints) until every record is in a window. */
async function streamOnce(store: FlowStore, stream: string, expectedFlows: number): Promise<{summary: StreamRunSummary; windows: WindowReport[]; scorer: Awaited<ReturnType<typeof createModelScorer>>}> {
  const scorer = await createModelScorer(store, model, {stream, workerId: 'test'})
  const stop = new AbortController()
  const windows: WindowReport[] = []
  let records = 0
  const running = runStreamWorker({
    kinesis,
    stream,
    workerId: 'test',
    store: scorer.store,
    scoreWindow: scorer.scoreWindow,
    windowSec: 5,
    latenessSec: 2,
    startPosition: {type: 'TRIM_HORIZON'},
    signal: stop.signal,
    discoveryMs: 500,
    idleTimeoutMs: 300,
    read: {idlePollMs: 50, minIntervalMs: 50},
    requestTimeoutMs: 3_000,
    onWindow: (w) => {
      windows.push(w)
      records += w.records
    },
  })
  running.catch(() => undefined)
  await waitFor('every flow in a committed window', () => records >= expectedFlows, 30_000)
  stop.abort()
  return {summary: await running, windows, scorer}
}

describe('createModelScorer', () => {
  it('finds the batch first pass’s detections for every model window the stream saw complete, and a replay changes nothing', {timeout: 60_000}, async () => {
    // batch: ingest the capture, first pass
    const batch = await FlowStore.open(':memory:')
    const ingest = await ingestCapture(batch, capture, {network: NETWORK})
    const first = await runFirstPass(batch, model)
    expect(first.detections.length).toBeGreaterThan(100)

    // stream: the capture's flows on two shards, keyed by source
    await createStream(kinesis, 'scorer', 2)
    const put = await putFlows(kinesis, 'scorer', replayCapture(capture, {speed: Infinity}), {network: NETWORK, partitionKey: 'src'})
    expect(put.flows).toBe(ingest.flows)
    const store = await FlowStore.open(':memory:')
    try {
      const {summary, windows, scorer} = await streamOnce(store, 'scorer', put.flows)
      expect(summary).toMatchObject({records: put.flows, lateDropped: 0, badRecords: 0})
      expect(scorer.stats.flowsStored).toBe(put.flows)
      const lastEndUs = Math.max(...windows.map((w) => w.windowEndUs))

      // the same flows in the store as batch ingest gives
      const [{n}] = (await store.all<{n: bigint}>("SELECT count(*) AS n FROM flows JOIN sources USING (source_id) WHERE format = 'kinesis'")) as [{n: bigint}]
      expect(Number(n)).toBe(ingest.flows)

      // batch detections of the model windows that ended by the stream's last window end
      const expected = first.detections
        .filter((d) => d.windowEnd <= lastEndUs)
        .map((d) => ({key: `${d.network}|${d.address}|${d.windowStart}|${d.model}`, score: d.score, kind: d.attackType}))
        .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      const all = await detections(store, 'stream')
      // the model's own windows (starts on its hop) are batch's; the others are the trailing windows
      const hopUs = scorer.hopUs
      const got = all.filter((r) => Number(r.key.split('|')[2]) % hopUs === 0)
      const trailing = all.filter((r) => Number(r.key.split('|')[2]) % hopUs !== 0)
      // the windows only batch has are the last ones, never complete in the stream
      const onlyBatch = first.detections.filter((d) => d.windowEnd > lastEndUs)
      expect(onlyBatch.every((d) => d.windowEnd > lastEndUs && d.windowStart > lastEndUs - 300e6)).toBe(true)
      expect(got.map((r) => r.key).sort()).toEqual(expected.map((r) => r.key))
      const byKey = new Map(got.map((r) => [r.key, r]))
      for (const e of expected) {
        const g = byKey.get(e.key)!
        expect(g.kind, e.key).toBe(e.kind)
        expect(Math.abs(g.score - e.score), e.key).toBeLessThan(1e-6 * Math.max(1, e.score))
      }
      // attacks are among them
      expect(new Set(got.map((r) => r.kind)).size).toBeGreaterThan(2)

      // every trailing window is the batch store's window of the model's length ending with its stream
      // window, scored for the addresses with flows in that stream window: the same verdicts and scores
      expect(trailing.length).toBeGreaterThan(100)
      const ends = [...new Set(windows.map((w) => w.windowEndUs))].filter((e) => e % hopUs !== 0)
      let checked = 0
      for (const endUs of ends) {
        const startUs = endUs - scorer.windowUs
        const active = await batch.all<{a: string}>(
          `SELECT DISTINCT a FROM (SELECT src_ip AS a FROM flows WHERE ts_start >= make_timestamp($1::BIGINT) AND ts_start < make_timestamp($2::BIGINT)
             UNION ALL SELECT dst_ip FROM flows WHERE ts_start >= make_timestamp($1::BIGINT) AND ts_start < make_timestamp($2::BIGINT))`,
          [endUs - 5e6, endUs],
        )
        if (active.length === 0) continue
        const want = await scoreWindows(batch, model, {since: startUs, until: startUs + 1, geometry: {hopSec: scorer.windowUs / 1e6, phaseUs: startUs}, addresses: active.map((r) => r.a)})
        const wantKeys = want.flagged.map((f) => `${f.network}|${f.address}|${f.windowStart}|${scorer.modelId}`).sort()
        const gotHere = trailing.filter((r) => Number(r.key.split('|')[2]) === startUs)
        expect(gotHere.map((r) => r.key).sort(), `window ending ${endUs}`).toEqual(wantKeys)
        for (const f of want.flagged) {
          const g = gotHere.find((r) => r.key === `${f.network}|${f.address}|${f.windowStart}|${scorer.modelId}`)!
          expect(Math.abs(g.score - f.score)).toBeLessThan(1e-6 * Math.max(1, f.score))
        }
        checked += wantKeys.length
      }
      expect(checked).toBe(trailing.length)

      // read the whole stream again into the same store (checkpoints forgotten): nothing changes
      const before = {detections: all, flows: Number(n), windows: summary.windows}
      await store.run("DELETE FROM stream_checkpoints WHERE stream = 'scorer'")
      const again = await streamOnce(store, 'scorer', put.flows)
      expect(again.scorer.stats).toMatchObject({flowsStored: 0, flowsReplayed: put.flows})
      const [{n: n2}] = (await store.all<{n: bigint}>('SELECT count(*) AS n FROM flows')) as [{n: bigint}]
      expect(Number(n2)).toBe(before.flows)
      const replayed = await detections(store, 'stream')
      expect(replayed.map((r) => [r.key, r.score, r.kind, r.features])).toEqual(before.detections.map((r) => [r.key, r.score, r.kind, r.features]))
    } finally {
      await store.close()
      await batch.close()
    }
  })
})
