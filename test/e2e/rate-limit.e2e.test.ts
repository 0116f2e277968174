/**
 * `--rate-limit` and `--rate-limit-file` on `stream` and `collect` as a user meets them: `stream` over
 * a local kinesalite thins the network over its budget and says so in --json, its summary line and
 * `flowscope report`; a budget file with bad content is a usage error (exit 2) naming the file and
 * the key, before anything is read.
 */
import {spawn} from 'node:child_process'
import {writeFileSync} from 'node:fs'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {createKinesisClient, putFlows, startLocalKinesis, type LocalServer} from '../../src/stream/index.js'
import {ROOT, runCli, tempDir, type CliRun} from '../helpers/cli.js'
import {expectContract} from '../helpers/contract.js'
import {batches, createStream, syntheticFlows} from '../stream/helpers.js'

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

/** The CLI run without blocking this process (kinesalite answers from it). */
function cli(args: string[], timeoutMs = 30_000): Promise<CliRun> {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/run.js'), ...args], {cwd: ROOT, env: {...process.env, NO_COLOR: '1'}, stdio: ['ignore', 'pipe', 'pipe']})
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  return new Promise<CliRun>((resolve) => {
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
}

describe('flowscope stream --rate-limit-file', () => {
  it('thins the network over its budget (sampling_rate × 10), leaves the other, and reports it', {timeout: 60_000}, async () => {
    const dir = tempDir()
    const db = path.join(dir, 's.duckdb')
    const budgets = path.join(dir, 'budgets.json')
    writeFileSync(budgets, JSON.stringify({networks: {big: 100}}))
    await createStream(kinesis, 'rate', 2)
    // 'big' at 1,000 flows/s for 10 s, 'small' at 50/s, second by second so neither is late for the other
    const start = 1_700_000_000_000_000
    for (let sec = 0; sec < 10; sec++) {
      await putFlows(kinesis, 'rate', batches(syntheticFlows({count: 1000, perSecond: 1000, startUs: start + sec * 1e6, firstId: sec * 1000, seed: sec + 1})), {network: 'big', partitionKey: 'src'})
      await putFlows(kinesis, 'rate', batches(syntheticFlows({count: 50, perSecond: 50, startUs: start + sec * 1e6, firstId: 1e6 + sec * 50, seed: sec + 50})), {network: 'small', partitionKey: 'src'})
    }
    const run = await cli(['stream', '--stream', 'rate', '--endpoint', kinesalite.endpoint, '--start', 'trim-horizon', '--duration', '8', '--drain', '--db', db, '--rate-limit-file', budgets, '--json'])
    expectContract('stream', run)
    expect(run.code, run.stderr).toBe(0)
    const r = run.json!.result
    const [big] = r.thinning
    expect(r.thinning).toHaveLength(1)
    expect(big).toMatchObject({network: 'big', budget: 100, recordsIn: 10_000, intervals: 2, thinned: 2, maxK: 10, kCounts: {'10': 2}})
    expect(Math.abs(big.recordsKept - 1000)).toBeLessThan(100)
    expect(r.records).toBe(big.recordsKept + 500)

    const q = runCli(['sql', 'SELECT network, count(*) AS n, min(sampling_rate) AS lo, max(sampling_rate) AS hi FROM flows GROUP BY ALL ORDER BY network', '--db', db, '--json'])
    expect(q.code, q.stderr).toBe(0)
    expect(q.json!.result.rows).toEqual([
      {network: 'big', n: big.recordsKept, lo: 10, hi: 10},
      {network: 'small', n: 500, lo: 1, hi: 1},
    ])
    const report = runCli(['report', '--db', db, '--since', '2020-01-01'])
    expect(report.code, report.stderr).toBe(0)
    expect(report.stdout.replace(/\s+/g, ' ')).toContain(`run ${r.runId} (stream) thinned to --rate-limit: big 10000 → ${big.recordsKept} records`)
  })
})


describe('--rate-limit-file', () => {
  const dir = tempDir()
  const bad = path.join(dir, 'budgets.json')
  writeFileSync(bad, '{"default": 2000, "networks": {"core": 0}}')
  const notJson = path.join(dir, 'broken.json')
  writeFileSync(notJson, '{"default": ')

  it.each([
    ['stream', ['stream', '--stream', 'flows', '--endpoint', 'http://127.0.0.1:9', '--db', path.join(dir, 's.duckdb')]],
    ['collect', ['collect', '--listen', 'udp://127.0.0.1:0', '--db', path.join(dir, 'c.duckdb'), '--duration', '1']],
  ])('%s refuses a budget file with bad content (exit 2, file and key named)', (_name, args) => {
    const r = runCli([...args, '--rate-limit-file', bad, '--json'])
    expect(r.code, r.stderr).toBe(2)
    expect(r.json!.error.message).toContain(`${bad}: 'networks.core' must be a positive number of records per second, got 0`)
    const broken = runCli([...args, '--rate-limit-file', notJson, '--json'])
    expect(broken.code).toBe(2)
    expect(broken.json!.error.message).toContain(`${notJson}: not JSON`)
    const negative = runCli([...args, '--rate-limit', '-5', '--json'])
    expect(negative.code).toBe(2)
  })

  it('both commands show the flags with examples in --help', () => {
    for (const command of ['stream', 'collect']) {
      const help = runCli([command, '--help'])
      expect(help.code).toBe(0)
      expect(help.stdout).toContain('--rate-limit=')
      expect(help.stdout).toContain('--rate-limit-file=')
      expect(help.stdout).toMatch(/--rate-limit \d+/)
      expect(help.stdout).toMatch(/--rate-limit-file budgets\.json/)
    }
  })
})
