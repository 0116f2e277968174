/*
 * The CI-sized mutation fuzz of issue #20 (item 7): a fixed set of mutants of real captures, export
 * captures and flow files from ../shared/data, each ingested plain and with skipBad into a fresh store.
 * Every ingest must either succeed with every stored row inside core/flow-bounds.ts and the query
 * commands working afterwards, or fail with exit 3 naming the file and nothing stored. Two mutants also
 * go through the built CLI. A failure lists one line per case (format, input, seed, variant, mutation,
 * what went wrong); rerun one with `FUZZ_ONLY=format:seed npm run fuzz`. The long run is `npm run fuzz`.
 */
import {existsSync} from 'node:fs'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {ROOT, SHARED_DATA} from '../helpers/cli.js'
import {describeCases, failureLine, FORMATS, formatReport, runFuzz} from './runner.mjs'

const HAVE_DATA = existsSync(path.join(SHARED_DATA, 'CATALOG.md'))
const SEED = 20
const CASES = 60

describe.skipIf(!HAVE_DATA)('mutation fuzz over ../shared/data (issue #20)', () => {
  it('a seed gives the same mutants every time, and another seed other ones', async () => {
    const a = await describeCases({root: ROOT, dataDir: SHARED_DATA, seed: SEED, cases: 2 * FORMATS.length})
    const b = await describeCases({root: ROOT, dataDir: SHARED_DATA, seed: SEED, cases: 2 * FORMATS.length})
    const c = await describeCases({root: ROOT, dataDir: SHARED_DATA, seed: SEED + 1, cases: 2 * FORMATS.length})
    expect(b).toEqual(a)
    expect(new Set(a.map((x) => x.format))).toEqual(new Set(FORMATS))
    expect(c.filter((x, i) => x.sha256 === a[i]!.sha256).length).toBeLessThan(3)
  })

  it(`${CASES} mutants (seed ${SEED}): ok with a sane store and working queries, or exit 3 naming the file with nothing stored`, async () => {
    const run = await runFuzz({root: ROOT, dataDir: SHARED_DATA, seed: SEED, cases: CASES, cliEvery: 33, cliMax: 2})
    console.log(formatReport(run))
    expect(run.failures.map(failureLine)).toEqual([])
  }, 180_000)
})
