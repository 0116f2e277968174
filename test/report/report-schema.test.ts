import {readFileSync} from 'node:fs'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {FlowStore} from '../../src/io/index.js'
import {buildReport} from '../../src/report/index.js'
import type {ReportResult} from '../../src/report/index.js'
import {ROOT} from '../helpers/cli.js'
import {validate} from './json-schema.js'
import type {Schema} from './json-schema.js'
import {makeFixtureStore, NOW} from './fixture.js'

const schema = JSON.parse(readFileSync(path.join(ROOT, 'schemas/report.schema.json'), 'utf8')) as Schema

/** As `--json` prints it: the envelope, through JSON. */
function envelope(result: ReportResult | null, status = 0): unknown {
  return JSON.parse(JSON.stringify({status, result, warnings: []}))
}

describe('schemas/report.schema.json', () => {
  it('accepts the report of the fixture store and of an empty store', async () => {
    const store = await makeFixtureStore()
    const full = await buildReport(store, {now: NOW})
    await store.close()
    expect(validate(schema, envelope({...full, htmlFile: '/tmp/r.html'}, 4))).toEqual([])
    const blank = await FlowStore.open(':memory:')
    const empty = await buildReport(blank, {now: NOW, since: new Date(0), minScore: 1, pass: 'post', network: 'x', type: 'scan'})
    await blank.close()
    expect(validate(schema, envelope({...empty, htmlFile: null}))).toEqual([])
  })

  it('rejects a renamed, missing or mistyped key, so a change of the contract shows in review', async () => {
    const store = await makeFixtureStore()
    const r = {...(await buildReport(store, {now: NOW})), htmlFile: null}
    await store.close()
    const mutate = (fn: (o: {result: Record<string, any>}) => void): unknown => { // eslint-disable-line @typescript-eslint/no-explicit-any
      const o = envelope(r) as {result: Record<string, any>} // eslint-disable-line @typescript-eslint/no-explicit-any
      fn(o)
      return o
    }
    expect(validate(schema, mutate((o) => delete o.result.detections.rows[0].score))).toEqual(["$.result.detections.rows[0]: missing required 'score'"])
    expect(validate(schema, mutate((o) => (o.result.detections.rows[0].scores = 1)))).toEqual(["$.result.detections.rows[0]: unexpected property 'scores'"])
    expect(validate(schema, mutate((o) => (o.result.runs[0].wallS = '12')))).toHaveLength(1)
    expect(validate(schema, mutate((o) => (o.result.generatedAt = 'yesterday')))).toHaveLength(1)
    expect(validate(schema, mutate((o) => (o.result.sampling.cells[0].origin = 'guess')))).toHaveLength(1)
  })

  it('accepts the error envelope', () => {
    const err = {status: 1, result: null, warnings: [], error: {name: 'JobLockedError', code: 'STORE_LOCKED', message: 'locked', hint: 'wait'}}
    expect(validate(schema, err)).toEqual([])
  })
})

describe('flowscope report flags', () => {
  it('are the documented ones (a rename shows here and in review)', async () => {
    const {default: Report} = await import('../../src/commands/report.js')
    expect(Object.keys(Report.flags).sort()).toEqual(['csv', 'fail-on', 'format', 'html', 'min-score', 'min-severity', 'network', 'pass', 'since', 'top', 'type', 'until'])
    expect(Report.examples.length).toBeGreaterThanOrEqual(4)
  })
})
