#!/usr/bin/env node
// `npm run fuzz`: the long mutation-fuzz run of issue #20 over ../shared/data, against the built dist/.
//   FUZZ_CASES=N     mutants (default 3000), formats in turn; each is ingested plain and with --skip-bad
//   FUZZ_SEED=S      base seed (default 20); the same seed and count give the same cases
//   FUZZ_FORMATS=a,b only these formats (pcap, pcap-nsec, pcapng, netflow5, netflow9, ipfix, sflow,
//                    csv, csv-gz, parquet)
//   FUZZ_CLI_EVERY=K every K-th mutant also through the CLI (default 101, so every format gets some; 0: never)
//   FUZZ_BASELINE=0  skip the first check that every unmutated input ingests ok
//   FUZZ_ONLY=format:seed[,format:seed…]  rerun just these cases (from a failure line)
//   FUZZ_KEEP=DIR    copy the mutant of every failing case into DIR
//   FUZZ_FAILURES=F  write every failure, one line each, to F
//   FUZZ_DATA=DIR    the data folder (default ../shared/data)
// Prints one row of figures per format and the distinct failure classes; exits 1 when any case failed.
import {existsSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {failureLine, FORMATS, formatReport, runFuzz} from '../test/fuzz/runner.mjs'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const env = process.env
const dataDir = path.resolve(root, env.FUZZ_DATA ?? '../shared/data')
if (!existsSync(path.join(dataDir, 'CATALOG.md'))) {
  console.error(`${dataDir}: no test data (CATALOG.md); set FUZZ_DATA`)
  process.exit(2)
}
if (!existsSync(path.join(root, 'dist/io/index.js'))) {
  console.error(`${path.join(root, 'dist')}: not built; run npm run build`)
  process.exit(2)
}
const int = (name, dflt) => {
  const v = env[name] === undefined || env[name] === '' ? dflt : Number(env[name])
  if (!Number.isInteger(v) || v < 0) {
    console.error(`${name}=${env[name]}: not a whole number`)
    process.exit(2)
  }
  return v
}
const formats = env.FUZZ_FORMATS ? env.FUZZ_FORMATS.split(',').map((s) => s.trim()) : FORMATS
for (const f of formats) {
  if (!FORMATS.includes(f)) {
    console.error(`FUZZ_FORMATS: unknown format ${f} (one of ${FORMATS.join(', ')})`)
    process.exit(2)
  }
}
const only = env.FUZZ_ONLY
  ? env.FUZZ_ONLY.split(',').map((s) => {
      const [format, seed] = s.trim().split(':')
      return {format, seed: Number(seed)}
    })
  : undefined
const cases = int('FUZZ_CASES', 3000)
const seed = int('FUZZ_SEED', 20)
const cliEvery = int('FUZZ_CLI_EVERY', 101)

let done = 0
const total = only?.length ?? cases
const run = await runFuzz({
  root,
  dataDir,
  seed,
  cases,
  formats: only ? [...new Set(only.map((o) => o.format))] : formats,
  cliEvery,
  baseline: env.FUZZ_BASELINE !== '0' && !only,
  ...(only ? {only} : {}),
  ...(env.FUZZ_KEEP ? {keep: path.resolve(env.FUZZ_KEEP)} : {}),
  onCase: (c, outcomes) => {
    done++
    for (const o of outcomes) if (o.outcome === 'failure') process.stderr.write(`FAIL ${failureLine({...c, variant: o.variant, kind: o.kind, message: o.message})}\n`)
    if (only) for (const o of outcomes) process.stderr.write(`${c.format}:${c.seed} [${o.variant}] ${c.mutation} → ${o.outcome}${o.kind ? ` ${o.kind}` : ''}: ${o.message}\n`)
    if (done % 100 === 0) process.stderr.write(`… ${done}/${total} cases\n`)
  },
})
console.log(`flowscope fuzz: seed ${seed}, ${total} cases, data ${dataDir}\n`)
console.log(formatReport(run))
if (env.FUZZ_FAILURES) writeFileSync(env.FUZZ_FAILURES, run.failures.map((f) => `${failureLine(f)}\n`).join(''))
// exit now: an ingest that hung (a failure of its own) may still hold a worker thread
process.exit(run.failures.length > 0 ? 1 : 0)
