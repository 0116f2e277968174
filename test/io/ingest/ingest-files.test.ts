import {readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {afterEach, describe, expect, it, vi} from 'vitest'

import {CaptureFormatError} from '../../../src/core/index.js'
import {ingestFiles} from '../../../src/io/ingest/ingest-files.js'
import {CaptureLookahead} from '../../../src/io/ingest/ingest.js'
import {FlowStore} from '../../../src/io/store/store.js'
import {runPipeline} from '../../../src/pipeline.js'
import {FIXTURES, tempDir} from '../../helpers/cli.js'

const sniffs = vi.hoisted(() => new Map<string, number>())
vi.mock('../../../src/io/ingest/ingest-kind.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../../src/io/ingest/ingest-kind.js')>()
  return {
    ...real,
    sniffIngestKind: async (file: string) => {
      sniffs.set(file, (sniffs.get(file) ?? 0) + 1)
      return real.sniffIngestKind(file)
    },
  }
})

const DEMO = path.join(FIXTURES, 'demo.pcap')
const SMALL = path.join(FIXTURES, 'small.pcapng')
const CSV_TEXT = 'src_ip,dst_ip,src_port,dst_port,proto,packets,bytes,ts_start\n10.0.0.1,10.0.0.2,1,2,6,3,180,1700000000\n'

async function sources(store: FlowStore): Promise<{path: string; flows: number}[]> {
  const rows = await store.all<{path: string; flows: bigint}>('SELECT path, flows FROM sources ORDER BY source_id')
  return rows.map((r) => ({path: r.path, flows: Number(r.flows)}))
}

/** Records, in order, when the lookahead starts a file and when something else of interest happens. */
function traceLookahead(): {log: string[]; prefetchedFor: string[]} {
  const log: string[] = []
  const prefetchedFor: string[] = []
  const ahead = CaptureLookahead.prototype.ahead
  const takeSniffed = CaptureLookahead.prototype.takeSniffed
  vi.spyOn(CaptureLookahead.prototype, 'ahead').mockImplementation(function (this: CaptureLookahead, file: string) {
    log.push(`ahead ${path.basename(file)}`)
    ahead.call(this, file)
  })
  vi.spyOn(CaptureLookahead.prototype, 'takeSniffed').mockImplementation(async function (this: CaptureLookahead, file: string) {
    const r = await takeSniffed.call(this, file)
    if (r.prefetched) prefetchedFor.push(path.basename(file))
    return r
  })
  return {log, prefetchedFor}
}

afterEach(() => {
  vi.restoreAllMocks()
  sniffs.clear()
})

describe('ingestFiles', () => {
  it('ingests files in the order given, each its own source, and reports each as it ends', async () => {
    const dir = tempDir()
    const csv = path.join(dir, 'flows.csv')
    writeFileSync(csv, CSV_TEXT)
    const store = await FlowStore.open(path.join(dir, 's.duckdb'))
    const started: string[] = []
    const done: string[] = []
    const stopped: string[] = []
    const results = await ingestFiles(store, [SMALL, csv, DEMO], {
      network: 'n',
      onFileStart: (file, i) => {
        started.push(`${i} ${path.basename(file)}`)
        return {update: () => undefined, stop: () => stopped.push(path.basename(file))}
      },
      onFileDone: (r, i) => done.push(`${i} ${path.basename(r.file)} ${r.status}`),
    })
    expect(results.map((r) => r.file)).toEqual([SMALL, csv, DEMO])
    expect(results.map((r) => r.status)).toEqual(['ingested', 'ingested', 'ingested'])
    expect(started).toEqual(['0 small.pcapng', '1 flows.csv', '2 demo.pcap'])
    expect(done).toEqual(['0 small.pcapng ingested', '1 flows.csv ingested', '2 demo.pcap ingested'])
    expect(stopped).toEqual(['small.pcapng', 'flows.csv', 'demo.pcap'])
    expect(await sources(store)).toEqual(results.map((r) => ({path: path.resolve(r.file), flows: r.flows})))
    // each file's first bytes are read once: by the lookahead, or (not looked ahead) by its ingest
    expect([...sniffs.values()]).toEqual([1, 1, 1])
    await store.close()
  })

  it('a file given again is unchanged, the same source, and adds nothing', async () => {
    const dir = tempDir()
    const store = await FlowStore.open(path.join(dir, 's.duckdb'))
    const [a, b] = await ingestFiles(store, [DEMO, DEMO], {network: 'n'})
    expect(a!.status).toBe('ingested')
    expect(b!.status).toBe('unchanged')
    expect(b!.sourceId).toBe(a!.sourceId)
    expect(b!.flows).toBe(a!.flows)
    expect(await sources(store)).toEqual([{path: DEMO, flows: a!.flows}])
    const [{n}] = (await store.all<{n: bigint}>('SELECT count(*) AS n FROM flows')) as [{n: bigint}]
    expect(Number(n)).toBe(a!.flows)
    await store.close()
  })

  it('a bad file in the middle fails the call: the files before it stay committed, it and those after it leave nothing', async () => {
    const dir = tempDir()
    const cut = path.join(dir, 'cut.pcap')
    const bytes = readFileSync(DEMO)
    writeFileSync(cut, bytes.subarray(0, bytes.length - 7))
    const store = await FlowStore.open(path.join(dir, 's.duckdb'))
    const done: string[] = []
    await expect(ingestFiles(store, [SMALL, cut, DEMO], {network: 'n', onFileDone: (r) => done.push(path.basename(r.file))})).rejects.toBeInstanceOf(CaptureFormatError)
    expect(done).toEqual(['small.pcapng'])
    const rows = await sources(store)
    expect(rows.map((r) => r.path)).toEqual([SMALL])
    const [{n}] = (await store.all<{n: bigint}>('SELECT count(*) AS n FROM flows')) as [{n: bigint}]
    expect(Number(n)).toBe(rows[0]!.flows)
    await store.close()
  })

  it('starts the first capture before the store is open, and each next one while the previous commits', async () => {
    const {log, prefetchedFor} = traceLookahead()
    const dir = tempDir()
    let open!: (s: FlowStore) => void
    const opening = new Promise<FlowStore>((resolve) => {
      open = resolve
    })
    const ingesting = ingestFiles(opening, [DEMO, SMALL], {network: 'n', onFileStart: (file) => void log.push(`start ${path.basename(file)}`)})
    await new Promise((r) => setTimeout(r, 20))
    log.push('store open')
    const store = await FlowStore.open(path.join(dir, 's.duckdb'))
    open(store)
    const results = await ingesting
    expect(results.map((r) => r.status)).toEqual(['ingested', 'ingested'])
    expect(log).toEqual(['ahead demo.pcap', 'store open', 'start demo.pcap', 'ahead small.pcapng', 'start small.pcapng'])
    expect(prefetchedFor).toEqual(['demo.pcap', 'small.pcapng'])
    await store.close()
  })

  it('a store that fails to open fails the call and stops the decoding started ahead', async () => {
    const cancel = vi.spyOn(CaptureLookahead.prototype, 'cancel')
    await expect(ingestFiles(Promise.reject(new Error('no store')), [DEMO], {network: 'n'})).rejects.toThrow('no store')
    expect(cancel).toHaveBeenCalledOnce()
  })

  it('flowscope run goes through it: its first capture decodes while the store opens', async () => {
    const {log, prefetchedFor} = traceLookahead()
    const realOpen = FlowStore.open.bind(FlowStore)
    vi.spyOn(FlowStore, 'open').mockImplementation(async (...args: Parameters<typeof FlowStore.open>) => {
      log.push('open store')
      const s = await realOpen(...args)
      log.push('store open')
      return s
    })
    const dir = tempDir()
    const r = await runPipeline({db: path.join(dir, 'run.duckdb'), files: [DEMO, SMALL], network: 'n', analyze: false, onStep: (s) => log.push(s)})
    expect(r.ingest.map((i) => i.status)).toEqual(['ingested', 'ingested'])
    const first = log.slice(0, log.indexOf('report'))
    expect(first.indexOf('ahead demo.pcap')).toBeLessThan(first.indexOf('store open'))
    expect(first.filter((l) => l.startsWith('ahead') || l.startsWith('ingest'))).toEqual([
      'ahead demo.pcap',
      `ingest ${DEMO}`,
      'ahead small.pcapng',
      `ingest ${SMALL}`,
    ])
    expect(prefetchedFor).toEqual(['demo.pcap', 'small.pcapng'])
  })
})
