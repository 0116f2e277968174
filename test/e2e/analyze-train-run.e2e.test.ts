/**
 * `analyze`, `train` and `run` as a user runs them (the built CLI, `--json`), on the demo capture:
 * the envelope against each command's schema, the values that matter, and the exit code of each
 * kind of failure (0 ok, 2 usage, 3 bad input data naming the file, 4 --fail-on detections or incidents).
 */
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {beforeAll, describe, expect, it} from 'vitest'

import {EXPECTED_INCIDENT} from '../helpers/attack-incidents.js'
import {FIXTURES, runCli, tempDir} from '../helpers/cli.js'
import {expectContract} from '../helpers/contract.js'

const DEMO = path.join(FIXTURES, 'demo.pcap')
const SMALL = path.join(FIXTURES, 'small.pcapng')

let dir: string
let db: string
let badModel: string

beforeAll(() => {
  dir = tempDir('flowscope-detect-')
  db = path.join(dir, 'demo.duckdb')
  badModel = path.join(dir, 'not-a-model.onnx')
  writeFileSync(badModel, 'not an ONNX model\n')
  const ingest = runCli(['ingest', DEMO, '--db', db, '--network', 'demo'])
  expect(ingest.code, ingest.stderr).toBe(0)
})

/** Stored incidents and detections; detections without an incident, and those naming one not stored. */
function incidentCounts(db: string): {incidents: number; detections: number; unlinked: number; dangling: number} {
  const sql =
    'SELECT (SELECT count(*) FROM incidents)::INTEGER AS incidents, (SELECT count(*) FROM detections)::INTEGER AS detections, ' +
    '(SELECT count(*) FROM detections WHERE incident_id IS NULL)::INTEGER AS unlinked, ' +
    '(SELECT count(*) FROM detections d WHERE incident_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM incidents i WHERE i.incident_id = d.incident_id))::INTEGER AS dangling'
  const r = runCli(['sql', sql, '--db', db, '--json'])
  const row = r.json!.result.rows[0] as {incidents: number; detections: number; unlinked: number; dangling: number}
  return row
}

/**
 * The demo's incidents against the generator's truth: each labelled attack is one incident of its type,
 * role and entity, and nothing else is one (so no spoofed SYN-flood source is). The exfiltration
 * (≈127 kB over 4.5 minutes to one HTTPS peer) scores at most 34 against the bundled model's threshold
 * of 112 in every window: no window detection, so no incident.
 */
function expectDemoIncidents(db: string): void {
  const truth = JSON.parse(readFileSync(`${DEMO}.truth.json`, 'utf8')) as {attacks: {kind: string; src: string[]; dst: string[]}[]}
  // every attack but the exfiltration, which no window flags (above)
  const want = truth.attacks
    .filter((a) => a.kind !== 'exfiltration')
    .map((a) => {
      const [type, role, end] = EXPECTED_INCIDENT[a.kind as keyof typeof EXPECTED_INCIDENT]
      return {entity: a[end][0] as string, type, role}
    })
  expect(want).toHaveLength(6)
  const r = runCli(['sql', 'SELECT entity, attack_type AS type, role FROM incidents ORDER BY entity', '--db', db, '--json'])
  const got = r.json!.result.rows as {entity: string; type: string; role: string}[]
  expect(got).toEqual(want.sort((a, b) => (a.entity < b.entity ? -1 : 1)))
}

describe('flowscope analyze (CLI)', () => {
  it('--json: both passes over the demo capture, the run recorded, the top detections by score/threshold', () => {
    const r = expectContract('analyze', runCli(['analyze', '--db', db, '--workers', '1', '--json']))
    expect(r).toMatchObject({runId: 1, status: 'ok', network: null, mode: 'buckets', workers: 1})
    expect(r.model).toMatch(/^model\.onnx@[0-9a-f]{12}$/)
    expect(r.addresses.total).toBeGreaterThan(1000)
    expect(r.addresses.flaggedFirst + r.addresses.analysed).toBe(r.addresses.total)
    expect(r.detections.first).toBeGreaterThan(0)
    expect(r.buckets.failed).toEqual([])
    expect(r.buckets.analysed).toBe(r.buckets.planned)
    expect(r.resources.addresses).toBe(r.addresses.total)
    expect(r.resources.wallS).toBeGreaterThan(0)
    const top = r.topDetections as {score: number; threshold: number; network: string; window: string}[]
    expect(top).toHaveLength(20)
    for (let i = 1; i < top.length; i++) expect(top[i - 1]!.score / top[i - 1]!.threshold).toBeGreaterThanOrEqual(top[i]!.score / top[i]!.threshold)
    expect(new Set(top.map((d) => d.network))).toEqual(new Set(['demo']))
    expect(top[0]!.window).toMatch(/^2026-01-05 00:\d\d\+5m$/)
    const runs = runCli(['sql', "SELECT run_id, kind, status FROM runs WHERE kind = 'analyze'", '--db', db, '--json'])
    expect(runs.json!.result.rows).toEqual([{run_id: 1, kind: 'analyze', status: 'ok'}])
    // the window detections merge into fewer incidents, and each detection names its incident
    const counts = incidentCounts(db)
    expect(counts.incidents).toBe(r.incidents.total)
    expect(counts.incidents).toBeGreaterThan(0)
    expect(counts.incidents).toBeLessThan(counts.detections)
    expect(counts.unlinked).toBe(0)
    expect(counts.dangling).toBe(0)
    expectDemoIncidents(db)
  })

  it('a model that is not ONNX is bad input: exit 3 naming the file; a bad flag value is a usage error: exit 2', () => {
    const badRun = runCli(['analyze', '--db', db, '--model', badModel, '--json'])
    expect(expectContract('analyze', badRun)).toBeNull()
    expect(badRun.code).toBe(3)
    expect(badRun.json!.error).toMatchObject({code: 'BAD_INPUT'})
    expect(badRun.json!.error.message).toContain(badModel)
    const missing = runCli(['analyze', '--db', db, '--model', path.join(dir, 'nowhere.onnx'), '--json'])
    expect(missing.code).toBe(3)
    expect(missing.json!.error.message).toContain(path.join(dir, 'nowhere.onnx'))
    expect(missing.json!.error.hint).toMatch(/--model/)
    const usage = runCli(['analyze', '--db', db, '--workers', '0', '--json'])
    expect(expectContract('analyze', usage)).toBeNull()
    expect(usage.code).toBe(2)
    expect(usage.json!.error.code).toBe('USAGE')
  })

  it('a store that does not exist is a usage error: exit 2 naming it, and none is created', () => {
    const nowhere = path.join(dir, 'no-such-analyze-store.duckdb')
    const r = runCli(['analyze', '--db', nowhere, '--json'])
    expect(expectContract('analyze', r)).toBeNull()
    expect(r.code).toBe(2)
    expect(r.json!.error.message).toContain(nowhere)
    expect(existsSync(nowhere)).toBe(false)
  })
})

describe('flowscope train (CLI)', () => {
  let model: string
  let trained: {metadata: {calibration: {threshold: number}}}
  beforeAll(() => {
    model = path.join(dir, 'demo.onnx')
    trained = expectContract('train', runCli(['train', '--db', db, '--network', 'demo', '--out', model, '--max-epochs', '3', '--json']))
  })

  it('--json: a model trained in at most --max-epochs, written with its post-processing calibration', () => {
    expect(trained).toMatchObject({model, metadata: {network: 'demo', windowSec: 300, hopSec: 60}})
    const t = trained as unknown as {rows: number; epochs: number; bestEpoch: number; metadata: {featureNames: string[]; architecture: {sizes: number[]}; calibration: {threshold: number; fpBudget: number}}}
    expect(t.rows).toBeGreaterThan(1000)
    expect(t.epochs).toBeLessThanOrEqual(3)
    expect(t.bestEpoch).toBeLessThanOrEqual(t.epochs)
    expect(t.metadata.architecture.sizes[0]).toBe(t.metadata.featureNames.length)
    expect(t.metadata.calibration.threshold).toBeGreaterThan(0)
    expect(t.metadata.calibration.fpBudget).toBe(0.001)
    expect(readFileSync(model).length).toBeGreaterThan(1000)
    expect(existsSync(`${model}.post.json`)).toBe(true)
  })

  it('--calibrate-only: the new threshold beside the previous one', () => {
    const out = path.join(dir, 'recalibrated.onnx')
    const r = expectContract('train', runCli(['train', '--db', db, '--calibrate-only', '--model', model, '--out', out, '--fp-budget', '0.01', '--json']))
    expect(r.model).toBe(out)
    expect(r.previousThreshold).toBe(trained.metadata.calibration.threshold)
    expect(r.threshold).toBeGreaterThan(0)
    expect(r.threshold).toBeLessThan(r.previousThreshold)
    expect(r.fpRate).toBeGreaterThan(0)
    expect(existsSync(out)).toBe(true)
  })

  it('refuses what it cannot do: exit 2 for a bad --fp-budget, --calibrate-only without --model, a missing store; exit 3 for a bad model', () => {
    const budget = runCli(['train', '--db', db, '--fp-budget', '2', '--out', path.join(dir, 'x.onnx'), '--json'])
    expect(expectContract('train', budget)).toBeNull()
    expect(budget.code).toBe(2)
    expect(budget.json!.error.message).toMatch(/--fp-budget/)
    const noModel = runCli(['train', '--db', db, '--calibrate-only', '--json'])
    expect(noModel.code).toBe(2)
    expect(noModel.json!.error.message).toMatch(/--model/)
    const nowhere = path.join(dir, 'no-such-store.duckdb')
    const missing = runCli(['train', '--db', nowhere, '--out', path.join(dir, 'x.onnx'), '--json'])
    expect(expectContract('train', missing)).toBeNull()
    expect(missing.code).toBe(2)
    expect(missing.json!.error.message).toBe(`${nowhere}: no such store`)
    expect(existsSync(nowhere)).toBe(false)
    const bad = runCli(['train', '--db', db, '--calibrate-only', '--model', badModel, '--out', path.join(dir, 'x.onnx'), '--json'])
    expect(expectContract('train', bad)).toBeNull()
    expect(bad.code).toBe(3)
    expect(bad.json!.error.message).toContain(badModel)
    expect(existsSync(path.join(dir, 'x.onnx'))).toBe(false)
  })
})

describe('flowscope run (CLI)', () => {
  let store: string
  it('--json: ingest, a sample at 1/100, the analysis and the report of one locked run; again with --fail-on detections exits 4', () => {
    store = path.join(dir, 'run.duckdb')
    const html = path.join(dir, 'report.html')
    const first = expectContract('run', runCli(['run', DEMO, '--db', store, '--network', 'site', '--sample', '1/100', '--workers', '1', '--html', html, '--json']))
    expect(first.ingest).toHaveLength(1)
    expect(first.ingest[0]).toMatchObject({file: DEMO, status: 'ingested', format: 'pcap', packets: 20021})
    expect(first.samples).toHaveLength(1)
    expect(first.samples[0]).toMatchObject({status: 'stored', sampler: 'systematic', rate: 100, parentSourceId: first.ingest[0].sourceId})
    expect(first.analyze).toMatchObject({status: 'ok', network: 'site'})
    expect(first.report.detections.total).toBe(first.analyze.detections.first + first.analyze.detections.post)
    expect(first.report.summary.networks).toEqual(['site', 'site-sampled'])
    expect(first.html).toBe(html)
    const counts = incidentCounts(store)
    expect(counts.incidents).toBe(first.analyze.incidents.total)
    expect(counts.incidents).toBeLessThan(counts.detections)
    expect(counts.unlinked).toBe(0)
    expect(readFileSync(html, 'utf8').startsWith('<!doctype html>')).toBe(true)

    // the same file again is a no-op ingest; the report still holds the detections
    const again = runCli(['run', DEMO, '--db', store, '--network', 'site', '--no-analyze', '--fail-on', 'detections', '--json'])
    // --fail-on detections: exit 4, and the envelope says so, as report's does
    const r = expectContract('run', again)
    expect(again.code).toBe(4)
    expect(r.ingest[0].status).toBe('unchanged')
    expect(r.analyze).toBeNull()
    expect(r.html).toBeNull()
    expect(r.report.detections.total).toBe(first.report.detections.total)
    expect(r.report.incidents.total).toBe(first.analyze.incidents.total)

    // --fail-on incidents: exit 4 while an incident of --min-severity or more is in the report, 0 when none is
    const severe = Math.max(...first.report.incidents.items.map((i: {severity: number}) => i.severity))
    const hit = runCli(['run', DEMO, '--db', store, '--network', 'site', '--no-analyze', '--fail-on', 'incidents', '--min-severity', String(severe), '--json'])
    expect(expectContract('run', hit).report.incidents.items.every((i: {severity: number}) => i.severity >= severe)).toBe(true)
    expect(hit.code).toBe(4)
    if (severe < 5) {
      const none = runCli(['run', DEMO, '--db', store, '--network', 'site', '--no-analyze', '--fail-on', 'incidents', '--min-severity', String(severe + 1), '--json'])
      expect(expectContract('run', none).report.incidents.total).toBe(0)
      expect(none.code).toBe(0)
    }
  })

  it('a damaged capture is bad input: exit 3 naming the file and offset; no file or a bad rate is usage: exit 2; a bad model exit 3', () => {
    const junk = path.join(dir, 'junk.pcap')
    writeFileSync(junk, 'this is not a capture file at all')
    const bad = runCli(['run', junk, '--db', path.join(dir, 'junk.duckdb'), '--no-analyze', '--json'])
    expect(expectContract('run', bad)).toBeNull()
    expect(bad.code).toBe(3)
    expect(bad.json!.error).toMatchObject({code: 'CAPTURE_FORMAT', file: junk, offset: 0})
    expect(bad.json!.error.message).toContain(junk)
    const none = runCli(['run', '--json'])
    expect(none.code).toBe(2)
    expect(none.json!.error.code).toBe('USAGE')
    const rate = runCli(['run', SMALL, '--db', path.join(dir, 'rate.duckdb'), '--sample', '2/3', '--json'])
    expect(expectContract('run', rate)).toBeNull()
    expect(rate.code).toBe(2)
    const model = runCli(['run', SMALL, '--db', path.join(dir, 'model.duckdb'), '--model', badModel, '--json'])
    expect(expectContract('run', model)).toBeNull()
    expect(model.code).toBe(3)
    expect(model.json!.error.message).toContain(badModel)
  })
})
