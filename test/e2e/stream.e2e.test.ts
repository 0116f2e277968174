/**
 * The stream commands as a user runs them (the built CLI), against kinesalite started here on
 * 127.0.0.1: `stream put` a generated capture, `stream --duration --json` scores it and writes
 * detections with pass 'stream'; `collect --to kinesis://` sends datagrams' records to a stream.
 * Commands that talk to kinesalite run asynchronously: it serves from this process's event loop.
 */
import {spawn} from 'node:child_process'
import dgram from 'node:dgram'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {addrToString} from '../../src/core/ip.js'
import {
  createKinesisClient,
  decodeFlowRecords,
  FlowBatchBuilder,
  listShards,
  readShard,
  startLocalKinesis,
  type LocalServer,
} from '../../src/stream/index.js'
import {ROOT, runCli, tempDir, type CliRun} from '../helpers/cli.js'
import {expectContract} from '../helpers/contract.js'
import {createStream} from '../stream/helpers.js'

let kinesalite: LocalServer
let kinesis: ReturnType<typeof createKinesisClient>

beforeAll(async () => {
  kinesalite = await startLocalKinesis()
  kinesis = createKinesisClient({endpoint: kinesalite.endpoint, requestTimeoutMs: 5_000, maxAttempts: 1})
}, 20_000)

afterAll(async () => {
  kinesis?.destroy()
  await kinesalite?.close()
})

interface Running {
  child: ReturnType<typeof spawn>
  stderr: () => string
  done: Promise<CliRun>
}

/** Starts the CLI without blocking this process (kinesalite answers from it), killed after `timeoutMs`. */
function startCli(args: string[], timeoutMs: number): Running {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/run.js'), ...args], {cwd: ROOT, env: {...process.env, NO_COLOR: '1'}, stdio: ['ignore', 'pipe', 'pipe']})
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  const done = new Promise<CliRun>((resolve) => {
    child.on('close', (code) => {
      clearTimeout(timer)
      let json: CliRun['json']
      try {
        json = JSON.parse(stdout)
      } catch {
        json = undefined
      }
      resolve({code: code ?? -1, stdout, stderr, json})
    })
  })
  return {child, stderr: () => stderr, done}
}

const cli = (args: string[], timeoutMs = 30_000): Promise<CliRun> => startCli(args, timeoutMs).done

describe('flowscope stream', () => {
  it('stream put replays a capture; stream --duration scores it and writes detections with pass stream', {timeout: 40_000}, async () => {
    const dir = tempDir()
    const pcap = path.join(dir, 'lab.pcap')
    const db = path.join(dir, 's.duckdb')
    expect(runCli(['gen', '--packets', '4000', '--seed', '5', '--out', pcap]).code).toBe(0)
    await createStream(kinesis, 'e2e', 2)

    const put = await cli(['stream', 'put', '--stream', 'e2e', '--endpoint', kinesalite.endpoint, '--network', 'lab', '--partition-key', 'src', pcap, '--json'])
    expectContract('stream put', put)
    expect(put.code, put.stderr).toBe(0)
    expect(put.json!.result).toMatchObject({stream: 'e2e', network: 'lab', partitionKey: 'src', format: 'json', stopped: false, retriedRequests: 0})
    const flows = put.json!.result.flows as number
    expect(flows).toBeGreaterThan(500)
    expect(put.json!.result.requests).toBeGreaterThan(0)
    expect(put.json!.result.recordsPerSec).toBeGreaterThan(0)

    const run = await cli(['stream', '--stream', 'e2e', '--endpoint', kinesalite.endpoint, '--start', 'trim-horizon', '--duration', '20', '--drain', '--db', db, '--json'])
    expectContract('stream', run)
    expect(run.code, run.stderr).toBe(0)
    const r = run.json!.result
    expect(r.incidents).toBeGreaterThan(0)
    expect(r).toMatchObject({stream: 'e2e', windowSec: 5, latenessSec: 1, records: flows, lateDropped: 0, badRecords: 0, modelWindowSec: 300, modelHopSec: 60})
    expect(r.scorer.flowsStored).toBe(flows)
    expect(r.detections).toBeGreaterThan(0)
    expect(r.model).toMatch(/^model\.onnx@[0-9a-f]{12}$/)
    // per-window metrics on stderr
    expect(run.stderr).toMatch(/window 2026-01-05 00:0\d:\d\d–00:0\d:\d\d: \d+ records, 1 network\(s\), \d+ detections/)

    const q = runCli([
      'sql',
      `SELECT (SELECT count(*) FROM detections WHERE pass = 'stream') AS stream, (SELECT count(*) FROM detections WHERE pass <> 'stream') AS other,
              (SELECT count(DISTINCT model) FROM detections) AS models, (SELECT min(epoch_us(window_end) - epoch_us(window_start)) FROM detections) AS len,
              (SELECT list(format || ' ' || network || ' ' || flows) FROM sources) AS sources, (SELECT sum(records) FROM stream_windows) AS windowed`,
      '--db',
      db,
      '--json',
    ])
    expect(q.code, q.stderr).toBe(0)
    expect(q.json!.result.rows).toEqual([{stream: r.detections, other: 0, models: 1, len: 300_000_000, sources: [`kinesis lab ${flows}`], windowed: flows}])

    // resuming from the checkpoints: nothing new to read, nothing changes
    const again = await cli(['stream', '--stream', 'e2e', '--endpoint', kinesalite.endpoint, '--start', 'checkpoint', '--duration', '2', '--db', db, '--json'])
    expectContract('stream', again)
    expect(again.code, again.stderr).toBe(0)
    expect(again.json!.result).toMatchObject({records: 0, detections: 0})
  })

  it('refuses what it cannot do: no stream name, --start checkpoint without one, a bad --to (exit 2)', () => {
    const dir = tempDir()
    expect(runCli(['stream', '--json']).code).toBe(2)
    const noCheckpoint = runCli(['stream', '--stream', 'none', '--endpoint', 'http://127.0.0.1:9', '--start', 'checkpoint', '--db', path.join(dir, 'x.duckdb'), '--json'])
    expectContract('stream', noCheckpoint)
    expect(noCheckpoint.code).toBe(2)
    expect(noCheckpoint.json!.error.message).toMatch(/no checkpoint of stream none/)
    const badTo = runCli(['collect', '--to', 'kafka://x', '--json'])
    expectContract('collect', badTo)
    expect(badTo.code).toBe(2)
  })
})

/** A NetFlow v5 datagram of `count` records: 10.9.0.k → 192.0.2.1:443, k = first.., 1 s long, ending 1 s before export. */
function netflowV5(first: number, count: number, exportSecs: number): Buffer {
  const b = Buffer.alloc(24 + 48 * count)
  const uptime = 100_000
  b.writeUInt16BE(5, 0)
  b.writeUInt16BE(count, 2)
  b.writeUInt32BE(uptime, 4)
  b.writeUInt32BE(exportSecs, 8)
  b.writeUInt32BE(first, 16)
  for (let i = 0; i < count; i++) {
    const r = 24 + i * 48
    b.writeUInt32BE(((10 << 24) | (9 << 16) | (first + i)) >>> 0, r)
    b.writeUInt32BE(((192 << 24) | (2 << 8) | 1) >>> 0, r + 4)
    b.writeUInt32BE(3, r + 16)
    b.writeUInt32BE(180, r + 20)
    b.writeUInt32BE(uptime - 2000, r + 24)
    b.writeUInt32BE(uptime - 1000, r + 28)
    b.writeUInt16BE(40_000 + i, r + 32)
    b.writeUInt16BE(443, r + 34)
    b.writeUInt8(0x1b, r + 37)
    b.writeUInt8(6, r + 38)
  }
  return b
}

describe('flowscope collect --to kinesis://', () => {
  it('sends the records of the datagrams it receives on 127.0.0.1 to the stream, and stops cleanly on SIGTERM', {timeout: 20_000}, async () => {
    await createStream(kinesis, 'e2e-collect', 1)
    const collector = startCli(
      ['collect', '--listen', 'udp://127.0.0.1:0', '--to', 'kinesis://e2e-collect', '--endpoint', kinesalite.endpoint, '--network', 'core', '--json', '--db', path.join(tempDir(), 'unused.duckdb')],
      15_000,
    )
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setInterval(() => {
        const m = /listening on udp:\/\/127\.0\.0\.1:(\d+)/.exec(collector.stderr())
        if (m) {
          clearInterval(timer)
          resolve(Number(m[1]))
        }
      }, 20)
      void collector.done.then((r) => {
        clearInterval(timer)
        reject(new Error(`collector exited early (${r.code}): ${r.stderr}`))
      })
    })
    const socket = dgram.createSocket('udp4')
    const exportSecs = Math.floor(Date.now() / 1000)
    for (let d = 0; d < 3; d++) {
      await new Promise<void>((resolve, reject) => socket.send(netflowV5(d * 30 + 1, 30, exportSecs), port, '127.0.0.1', (e) => (e ? reject(e) : resolve())))
    }
    socket.close()
    await new Promise((r) => setTimeout(r, 1500))
    collector.child.kill('SIGTERM')
    const result = await collector.done
    expectContract('collect', result)
    expect(result.code, result.stderr).toBe(0)
    expect(result.json!.result).toMatchObject({to: 'kinesis://e2e-collect', datagrams: 3, records: 90, put: {flows: 90, stopped: false}})

    // the stream holds the 90 records, decoded as `stream` decodes them
    const [shard] = await listShards(kinesis, 'e2e-collect')
    const stop = new AbortController()
    const timer = setTimeout(() => stop.abort(), 5_000)
    const decoded = new FlowBatchBuilder(128)
    for await (const batch of readShard(kinesis, 'e2e-collect', shard!.shardId, {start: {type: 'TRIM_HORIZON'}, signal: stop.signal, idlePollMs: 50, minIntervalMs: 50})) {
      for (const rec of batch.records) decodeFlowRecords(rec.data, decoded)
      if (decoded.length >= 90) break
    }
    clearTimeout(timer)
    expect(decoded.length).toBe(90)
    const sources = new Set<string>()
    for (let i = 0; i < decoded.length; i++) sources.add(addrToString(decoded.batch.srcAddr, i, 4))
    expect(sources.size).toBe(90)
    expect(new Set(decoded.network)).toEqual(new Set(['core']))
    expect(decoded.batch.exporter[0]).toBe('127.0.0.1')
    expect(decoded.batch.tsEnd[0]! - decoded.batch.tsStart[0]!).toBe(1_000_000)
  })
})
