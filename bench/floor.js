#!/usr/bin/env node
// The start-up floor of an ingest in this process model (Node 20 + DuckDB), for `npm run bench`:
//   node bench/floor.js open FILE    start Node, load DuckDB and open a new store, while a worker thread
//                                    reads FILE once (no decoding, no hashing, nothing stored)
//   node bench/floor.js decode FILE  the same, with the worker decoding FILE into flows (flowscope's
//                                    decoder, compiled worker code) that are then dropped
// Whatever an ingest does beyond these (hashing, appending, committing) only adds to them.
import {rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {Worker} from 'node:worker_threads'

const [mode, file] = process.argv.slice(2)
if (!['open', 'decode'].includes(mode) || !file) {
  process.stderr.write('usage: node bench/floor.js open|decode FILE\n')
  process.exit(2)
}

if (mode === 'open') {
  // the worker body is given as source so that nothing but node:fs is loaded in it
  const body = `
    const {closeSync, openSync, readSync} = require('node:fs')
    const {parentPort, workerData} = require('node:worker_threads')
    const fd = openSync(workerData, 'r')
    const buf = new Uint8Array(256 << 10)
    let total = 0
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) total += n
    closeSync(fd)
    parentPort.postMessage(total)`
  await withStore(new Worker(body, {eval: true, workerData: file}))
} else {
  const decodeJob = new URL('../dist/io/ingest/decode-job.js', import.meta.url).href
  const body = `
    const {parentPort, workerData} = require('node:worker_threads')
    import(workerData.decodeJob).then(async ({runDecodeJob}) => {
      let flows = 0
      await runDecodeJob(
        {file: workerData.file, skipBad: false, idleTimeoutMicros: 15e6, activeTimeoutMicros: 1800e6, decode: 'auto', hashInline: false},
        {onBatches: (batches) => { for (const b of batches) flows += b.length }},
      )
      parentPort.postMessage(flows)
    })`
  await withStore(new Worker(body, {eval: true, workerData: {file, decodeJob}}))
}

async function withStore(worker) {
  const done = new Promise((resolve, reject) => {
    worker.once('message', resolve)
    worker.once('error', reject)
  })
  const db = path.join(os.tmpdir(), `flowscope-floor-${process.pid}.duckdb`)
  const {FlowStore} = await import('../dist/io/index.js')
  const store = await FlowStore.open(db)
  await done
  await store.close()
  rmSync(db, {force: true})
  rmSync(`${db}.wal`, {force: true})
}
