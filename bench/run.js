#!/usr/bin/env node
// npm run bench — throughput and memory of flowscope against the established peers, from one run.
//
// For each generated capture (1M and 10M packets by default; BENCH_SIZES=1000000,10000000 to choose):
//   - flowscope ingest, whole process under /usr/bin/time: packets/s, flows/s, wall, CPU, peak RSS
//   - ../shared/bench/peers.sh with PEERS (default "limit nfpcapd"): the same figures per peer
//   - the ratio flowscope/nfpcapd of packets/s
//   INGEST_REPS rounds (default 3) interleave the two; each tool's median-wall round is reported
//   BENCH_HOSTILE=0 skips the hostile inputs of issue #20 (peak RSS against a 300 MB bound; HOSTILE_REPS runs, default 3)
//   BENCH_INCIDENTS=0 skips the cost of building incidents in `analyze` on the smallest capture (issue #16: < 10% of analyze)
// Results: a table on stdout and bench/out/results.json. Generated captures are cached in bench/out/.
import {execFileSync, spawnSync} from 'node:child_process'
import {closeSync, existsSync, mkdirSync, openSync, readSync, rmSync, writeFileSync, writeSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const OUT = path.join(ROOT, 'bench/out')
const PEERS_SH = path.resolve(ROOT, '../shared/bench/peers.sh')
const CLI = path.join(ROOT, 'bin/run.js')
const sizes = (process.env.BENCH_SIZES ?? '1000000,10000000').split(',').map(Number)
const peers = process.env.PEERS ?? 'limit nfpcapd'
/** rounds of the ingest comparison (flowscope, then its peers, each round) */
const INGEST_REPS = Math.max(1, Number(process.env.INGEST_REPS ?? 3) || 3)
mkdirSync(OUT, {recursive: true})

const haveTime = existsSync('/usr/bin/time')
const results = {date: new Date().toISOString(), node: process.version, cores: (await import('node:os')).cpus().length, ingest: []}

function timed(cmd, args) {
  // whole-process wall, CPU (user+sys) and peak RSS, as peers.sh measures its peers
  const tfile = path.join(OUT, 'time.txt')
  const full = haveTime ? ['/usr/bin/time', ['-f', '%e %U %S %M', '-o', tfile, cmd, ...args]] : [cmd, args]
  const t0 = performance.now()
  const r = spawnSync(full[0], full[1], {encoding: 'utf8', maxBuffer: 256 << 20})
  const wall = (performance.now() - t0) / 1000
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`)
  let cpu = NaN
  let rssMB = NaN
  let w = wall
  if (haveTime) {
    const [e, u, s, m] = execFileSync('tail', ['-1', tfile], {encoding: 'utf8'}).trim().split(/\s+/).map(Number)
    w = e
    cpu = u + s
    rssMB = m / 1024
  }
  return {stdout: r.stdout, wall: w, cpu, rssMB}
}

/** the run with the median wall time (the lower middle one of an even count) */
function medianByWall(runs) {
  const sorted = [...runs].sort((a, b) => a.wall - b.wall)
  return sorted[Math.floor((sorted.length - 1) / 2)]
}

function fmt(n, d = 0) {
  return Number.isFinite(n) ? n.toLocaleString('en-US', {maximumFractionDigits: d, minimumFractionDigits: d}) : '-'
}

for (const packets of sizes) {
  const pcap = path.join(OUT, `gen-${packets}.pcap`)
  if (!existsSync(pcap)) {
    process.stderr.write(`generating ${pcap} …\n`)
    const g = timed(process.execPath, [CLI, 'gen', '--packets', String(packets), '--seed', '7', '--out', pcap, '--json'])
    const gj = JSON.parse(g.stdout).result
    process.stderr.write(`  ${gj.packets} packets in ${fmt(g.wall, 1)} s (${fmt(gj.packets / g.wall)} packets/s, peak RSS ${fmt(g.rssMB)} MB)\n`)
  }
  const db = path.join(OUT, `bench-${packets}.duckdb`)
  process.stderr.write(`ingest ${pcap} (${INGEST_REPS} rounds: flowscope, then the peers) …\n`)
  // warm the page cache as peers.sh does before its peers, so every tool reads the file from memory
  execFileSync('sh', ['-c', `cat "$1" > /dev/null`, 'sh', pcap])
  // Rounds interleave flowscope and its peers, so a slow patch of a shared machine falls on both; each
  // tool's figures are those of its median-wall round.
  const ours = []
  const theirs = new Map()
  for (let round = 0; round < INGEST_REPS; round++) {
    rmSync(db, {force: true})
    rmSync(`${db}.wal`, {force: true})
    const r = timed(process.execPath, [CLI, 'ingest', pcap, '--db', db, '--json'])
    ours.push({...r, file: JSON.parse(r.stdout).result.files[0]})
    if (existsSync(PEERS_SH)) {
      const p = spawnSync('bash', [PEERS_SH, pcap], {env: {...process.env, PEERS: peers, TSV: '1', REPS: '1'}, encoding: 'utf8', maxBuffer: 64 << 20})
      const lines = p.stdout.trim().split('\n').slice(1).filter(Boolean)
      for (const line of lines) {
        const [peer, pps, flows, wall, cpu, rss, note] = line.split('\t')
        const runs = theirs.get(peer) ?? []
        runs.push({peer, packetsPerSec: Number(pps), flows: Number(flows), wall: Number(wall), cpu: Number(cpu), rssMB: Number(rss), note})
        theirs.set(peer, runs)
      }
    }
  }
  if (packets !== Math.max(...sizes)) rmSync(db, {force: true})
  const r = medianByWall(ours)
  const f = r.file
  const row = {
    capture: path.basename(pcap),
    packets: f.packets,
    flows: f.flows,
    rounds: INGEST_REPS,
    flowscope: {wall: r.wall, cpu: r.cpu, rssMB: Math.max(...ours.map((x) => x.rssMB)), packetsPerSec: f.packets / r.wall, flowsPerSec: f.flows / r.wall, inProcessPacketsPerSec: f.packetsPerSec, walls: ours.map((x) => x.wall)},
    peers: [...theirs.values()].map((runs) => ({...medianByWall(runs), walls: runs.map((x) => x.wall)})),
  }
  const nf = row.peers.find((x) => x.peer.startsWith('nfpcapd'))
  row.ratioVsNfpcapd = nf ? row.flowscope.packetsPerSec / nf.packetsPerSec : null
  results.ingest.push(row)
}


// ---- several captures in one call (a cron job ingesting rotated files): per-file cost once warm ----
results.batch = null
{
  const small = results.ingest.find((r) => r.packets === Math.min(...results.ingest.map((x) => x.packets)))
  const pcap = small && path.join(OUT, small.capture)
  if (pcap && existsSync(pcap)) {
    // three captures of different content, as rotated files are: copies whose first packet is a few
    // µs later (the low byte of its pcap ts_usec: the first MiB differs, as in real rotated captures)
    const copies = [0, 1, 2].map((k) => {
      const f = path.join(OUT, `batch-${k}-${small.capture}`)
      if (!existsSync(f)) {
        execFileSync('cp', [pcap, f])
        const fd = openSync(f, 'r+')
        const b = Buffer.alloc(1)
        readSync(fd, b, 0, 1, 28)
        writeSync(fd, Buffer.from([(b[0] + k + 1) & 0xff]), 0, 1, 28)
        closeSync(fd)
      }
      return f
    })
    process.stderr.write(`ingest ${copies.length} captures in one call …\n`)
    const db = path.join(OUT, 'bench-batch.duckdb')
    const runs = []
    for (let k = 0; k < INGEST_REPS; k++) {
      rmSync(db, {force: true})
      rmSync(`${db}.wal`, {force: true})
      runs.push(timed(process.execPath, [CLI, 'ingest', ...copies, '--db', db, '--json']))
    }
    rmSync(db, {force: true})
    const m = medianByWall(runs)
    const nf = small.peers.find((x) => x.peer.startsWith('nfpcapd'))
    results.batch = {capture: small.capture, files: copies.length, wall: m.wall, cpu: m.cpu, perFile: m.wall / copies.length, ratioVsNfpcapdPerFile: nf ? nf.wall / (m.wall / copies.length) : null}
  }
}

// ---- the start-up floor on the smallest capture: what any ingest in this process model pays ----
// (bench/floor.js: Node + DuckDB + opening a store, beside a worker that only reads the file, or only
// decodes it; no hashing, no appends, no commit), with the ratio to nfpcapd it would allow at best
results.floor = []
{
  const small = results.ingest.find((r) => r.packets === Math.min(...results.ingest.map((x) => x.packets)))
  const pcap = small && path.join(OUT, small.capture)
  const nf = small?.peers.find((x) => x.peer.startsWith('nfpcapd'))
  if (pcap && existsSync(pcap)) {
    process.stderr.write(`start-up floor on ${pcap} …\n`)
    for (const [mode, what] of [
      ['open', 'start Node, load DuckDB, open a store; a worker reads the file once'],
      ['decode', 'the same, the worker decoding the file into flows (dropped)'],
    ]) {
      const runs = []
      for (let k = 0; k < INGEST_REPS; k++) runs.push(timed(process.execPath, [path.join(ROOT, 'bench/floor.js'), mode, pcap]))
      const m = medianByWall(runs)
      results.floor.push({capture: small.capture, mode, what, wall: m.wall, cpu: m.cpu, bestRatioVsNfpcapd: nf ? nf.wall / m.wall : null})
    }
  }
}

// ---- flow exports: NetFlow/IPFIX/sFlow records decoded per second (in process, real exporter datagrams) ----
results.flowExport = null
{
  const DATA = path.resolve(ROOT, '../shared/data')
  const files = ['pmacct-flowexport/400-traffic-00.pcap', 'pmacct-flowexport/401-traffic-00.pcap', 'pmacct-flowexport/401-traffic-01.pcap', 'logstash-netflow-dat/DERIVED_all-vendors.pcap']
    .map((f) => path.join(DATA, f))
    .filter((f) => existsSync(f))
  if (files.length) {
    const {readCapture, udpPayload} = await import('../dist/io/index.js')
    const {createDecodedPacket, decodePacket, DECODE_OK} = await import('../dist/io/index.js')
    const {FlowExportDecoder, looksLikeFlowExport} = await import('../dist/io/flowexport/index.js')
    const datagrams = []
    const p = createDecodedPacket()
    for (const f of files) {
      for await (const b of readCapture(f)) {
        for (let i = 0; i < b.count; i++) {
          if (decodePacket(b.buf, b.offset[i], b.caplen[i], b.origLen[i], b.linktype[i], p) !== DECODE_OK || p.proto !== 17) continue
          const u = udpPayload(b.buf, p.l4Offset, p.l4End)
          if (u && looksLikeFlowExport(u)) datagrams.push({payload: Uint8Array.from(u), exporter: `${f}:${p.src[3]}`, ts: b.tsMicros[i]})
        }
      }
    }
    let records = 0
    let rounds = 0
    const t0 = performance.now()
    const sink = () => {
      records++
    }
    while (performance.now() - t0 < 3000) {
      const d = new FlowExportDecoder()
      for (const x of datagrams) d.decodeDatagram(x.payload, x.exporter, x.ts, sink)
      d.finish()
      rounds++
    }
    const secs = (performance.now() - t0) / 1000
    results.flowExport = {datagrams: datagrams.length * rounds, records, seconds: secs, recordsPerSec: records / secs, datagramsPerSec: (datagrams.length * rounds) / secs}
  }
}

// ---- sampling: the default sweep (7 rates × 4 samplers × 100 trials) beside one plain ingest ----
results.sampling = []
if (process.env.BENCH_SAMPLING !== '0') {
  const n = Math.min(...sizes)
  const pcap = path.join(OUT, `gen-${n}.pcap`)
  const ingestRow = results.ingest.find((r) => r.capture === path.basename(pcap))
  process.stderr.write(`bench sampling ${pcap} …\n`)
  const r = timed(process.execPath, [CLI, 'bench', 'sampling', pcap, '--no-store', '--json'])
  const j = JSON.parse(r.stdout).result
  results.sampling.push({
    capture: path.basename(pcap),
    packets: j.truth.packets,
    cells: j.cells.length,
    trials: j.trials,
    wall: r.wall,
    cpu: r.cpu,
    rssMB: r.rssMB,
    ingestWall: ingestRow?.flowscope.wall ?? null,
    ratioToIngest: ingestRow ? r.wall / ingestRow.flowscope.wall : null,
  })
}

// ---- query: `top srcip --by bytes -n 10` beside `nfdump -s srcip/bytes -n 10` on the same flows ----
const have = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0
results.query = []
if (process.env.BENCH_QUERY !== '0') {
  const big = Math.max(...sizes)
  const pcap = path.join(OUT, `gen-${big}.pcap`)
  const db = path.join(OUT, `bench-${big}.duckdb`)
  const db10 = path.join(OUT, `bench-${big}-x10.duckdb`)
  const nfDir = path.join(OUT, `nf-${big}`)
  const nfDir10 = path.join(OUT, `nf-${big}-x10`)
  if (have('nfpcapd')) {
    rmSync(nfDir, {recursive: true, force: true})
    rmSync(nfDir10, {recursive: true, force: true})
    mkdirSync(nfDir, {recursive: true})
    mkdirSync(nfDir10, {recursive: true})
    execFileSync('nfpcapd', ['-r', pcap, '-w', nfDir], {stdio: 'ignore'})
    const files = execFileSync('find', [nfDir, '-type', 'f', '-name', 'nfcapd.*'], {encoding: 'utf8'}).trim().split('\n').filter(Boolean)
    for (let k = 0; k < 10; k++) for (const [j, f] of files.entries()) execFileSync('cp', [f, path.join(nfDir10, `nfcapd.20000101${String(k).padStart(2, '0')}${String(j).padStart(2, '0')}`)])
  }
  // the 10x flow table: the same flows ten times over, each copy shifted by a day
  rmSync(db10, {force: true})
  execFileSync(process.execPath, ['--input-type=module', '-e', `
    import {DuckDBInstance} from '@duckdb/node-api'
    const i = await DuckDBInstance.create(${JSON.stringify(db10)}); const c = await i.connect()
    await c.run("ATTACH '${db}' AS src (READ_ONLY)")
    await c.run('CREATE TABLE sources AS SELECT * FROM src.sources')
    await c.run('CREATE TABLE flows AS SELECT * FROM src.flows WHERE false')
    for (let k = 0; k < 10; k++) await c.run("INSERT INTO flows SELECT * REPLACE (ts_start + INTERVAL (" + k + ") DAY AS ts_start, ts_end + INTERVAL (" + k + ") DAY AS ts_end) FROM src.flows")
    await c.run('CHECKPOINT')
  `], {cwd: ROOT, stdio: 'inherit'})
  const QUERY_REPS = 5
  for (const [label, store, nf] of [['1x', db, nfDir], ['10x', db10, nfDir10]]) {
    const ourRun = () => timed(process.execPath, [CLI, 'top', 'srcip', '--by', 'bytes', '-n', '10', '--db', store, '--json'])
    const theirRun = () => (have('nfdump') ? timed('nfdump', ['-R', nf, '-s', 'srcip/bytes', '-n', '10']) : undefined)
    // one discarded pair first, so neither tool pays for bringing its files into the page cache
    ourRun()
    theirRun()
    // interleaved, so both see the same machine load; medians of wall and CPU (user + sys)
    const ours = []
    const theirs = []
    for (let k = 0; k < QUERY_REPS; k++) {
      ours.push(ourRun())
      const t = theirRun()
      if (t) theirs.push(t)
    }
    const flows = Number(execFileSync(process.execPath, [CLI, 'sql', 'SELECT count(*) AS n FROM flows', '--db', store, '--json'], {encoding: 'utf8'}).match(/"n": (\d+)/)[1])
    const med = (xs) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] : NaN)
    results.query.push({
      table: label,
      flows,
      reps: QUERY_REPS,
      flowscopeTopWall: med(ours.map((r) => r.wall)),
      nfdumpTopWall: med(theirs.map((r) => r.wall)),
      flowscopeTopCpu: med(ours.map((r) => r.cpu)),
      nfdumpTopCpu: med(theirs.map((r) => r.cpu)),
      flowscopeTopRssMB: med(ours.map((r) => r.rssMB)),
    })
  }
}

// ---- hostile inputs (issue #20): peak RSS of one ingest against the 300 MB bound, whatever the file says ----
// BENCH_HOSTILE=0 to skip. A pcap whose header says snaplen 0xffffffff and whose one record claims 1 GiB
// (a sparse file: the bytes are never read, --skip-bad steps over it); a 1.8M-row gzip CSV of one
// repeated row (0.4 MB compressed, 135 MB of text); a 600k-row CSV of varied rows (52 MB).
results.hostile = []
if (process.env.BENCH_HOSTILE !== '0' && haveTime) {
  const {gzipSync} = await import('node:zlib')
  const RSS_BOUND_MB = 300
  const HOSTILE_REPS = Math.max(1, Number(process.env.HOSTILE_REPS ?? 3) || 3)
  const header = 'ts_start,ts_end,src_ip,src_port,dst_ip,dst_port,proto,packets,bytes\n'
  const inputs = [
    {
      name: 'hostile-1gib-record.pcap',
      what: 'pcap, snaplen 0xffffffff, one 1 GiB record',
      args: ['--skip-bad'],
      make(file) {
        const b = Buffer.alloc(40)
        b.writeUInt32LE(0xa1b2c3d4, 0)
        b.writeUInt16LE(2, 4)
        b.writeUInt16LE(4, 6)
        b.writeUInt32LE(0xffffffff, 16)
        b.writeUInt32LE(1, 20)
        b.writeUInt32LE(1_700_000_000, 24)
        b.writeUInt32LE(2 ** 30, 32)
        b.writeUInt32LE(2 ** 30, 36)
        writeFileSync(file, b)
        execFileSync('truncate', ['-s', String(40 + 2 ** 30), file])
      },
    },
    {
      name: 'hostile-1800k-rows.csv.gz',
      what: 'gzip CSV, 1.8M rows',
      args: [],
      make(file) {
        writeFileSync(file, gzipSync(header + '1700000000.000000,1700000001.000000,10.0.0.1,1234,192.168.0.1,80,6,1,40\n'.repeat(1_800_000), {level: 9}))
      },
    },
    {
      name: 'hostile-600k-rows.csv',
      what: 'CSV, 600k varied rows',
      args: [],
      make(file) {
        const fd = openSync(file, 'w')
        writeSync(fd, header)
        let x = 1
        const r = (n) => ((x = (x * 1103515245 + 12345) % 2 ** 31), x % n)
        for (let i = 0; i < 600_000; i += 10_000) {
          let chunk = ''
          for (let j = i; j < i + 10_000; j++) {
            const t = 1_700_000_000 + j / 100
            chunk += `${t.toFixed(6)},${(t + 1.5).toFixed(6)},10.${r(256)}.${r(256)}.${1 + r(254)},${1024 + r(64512)},192.168.${r(256)}.${1 + r(254)},${[80, 443, 53, 22][r(4)]},6,${1 + r(1000)},${40 + r(1_500_000)}\n`
          }
          writeSync(fd, chunk)
        }
        closeSync(fd)
      },
    },
  ]
  for (const input of inputs) {
    const file = path.join(OUT, input.name)
    if (!existsSync(file)) input.make(file)
    const store = path.join(OUT, 'hostile.duckdb')
    const runs = []
    for (let rep = 0; rep < HOSTILE_REPS; rep++) {
      rmSync(store, {force: true})
      rmSync(`${store}.wal`, {force: true})
      runs.push(timed(process.execPath, [CLI, 'ingest', file, '--db', store, '--network', 'bench', ...input.args]))
      rmSync(store, {force: true})
    }
    // the bound is on the worst run: peak RSS varies by tens of MB from run to run
    const rss = runs.map((r) => r.rssMB).sort((a, b) => a - b)
    const maxRss = rss.at(-1)
    results.hostile.push({input: input.name, what: input.what, runs: runs.length, wall: medianByWall(runs).wall, rssMB: rss, maxRssMB: maxRss, boundMB: RSS_BOUND_MB, ratioToBound: maxRss / RSS_BOUND_MB})
    process.stderr.write(`  hostile ${input.name}: peak RSS ${rss.map((x) => fmt(x)).join(', ')} MB\n`)
  }
}

// ---- incidents (issue #16): what building them adds to `analyze` on the smallest capture's flows ----
results.incidents = []
if (process.env.BENCH_INCIDENTS !== '0') {
  const small = Math.min(...sizes)
  const source = path.join(OUT, `bench-${small}.duckdb`)
  if (existsSync(source)) {
    const store = path.join(OUT, 'bench-incidents.duckdb')
    for (let rep = 0; rep < 2; rep++) {
      rmSync(store, {force: true})
      rmSync(`${store}.wal`, {force: true})
      execFileSync('cp', [source, store])
      const r = spawnSync(process.execPath, [CLI, 'analyze', '--db', store, '--json'], {encoding: 'utf8', maxBuffer: 64 << 20})
      const a = JSON.parse(r.stdout).result
      if (a === null) continue
      const wall = a.resources.wallS
      const build = a.incidents.wallS
      results.incidents.push({capture: small, detections: a.detections.first + a.detections.post + a.detections.related, incidents: a.incidents.total, analyzeWallS: wall, incidentsWallS: build, addedShare: build / (wall - build)})
    }
    rmSync(store, {force: true})
  }
}

const lines = []
lines.push(`ingest: whole-process figures (wall includes start-up, hashing and the DuckDB commit); each tool's median-wall run of ${results.ingest[0]?.rounds ?? 1} interleaved rounds`)
lines.push(['capture', 'tool', 'packets/s', 'flows', 'wall s', 'cpu s', 'peak RSS MB'].join('\t'))
for (const r of results.ingest) {
  lines.push([r.capture, 'flowscope ingest', fmt(r.flowscope.packetsPerSec), r.flows, fmt(r.flowscope.wall, 2), fmt(r.flowscope.cpu, 2), fmt(r.flowscope.rssMB)].join('\t'))
  for (const p of r.peers) lines.push([r.capture, p.peer, fmt(p.packetsPerSec), p.flows, fmt(p.wall, 2), fmt(p.cpu, 2), fmt(p.rssMB)].join('\t'))
  lines.push([r.capture, 'ratio flowscope/nfpcapd (packets/s)', r.ratioVsNfpcapd === null ? 'nfpcapd not installed' : `${r.ratioVsNfpcapd.toFixed(2)}x`].join('\t'))
}
if (results.batch) {
  const x = results.batch
  lines.push('')
  lines.push(`several captures in one call: ${x.files} different ${x.capture} in ${fmt(x.wall, 2)} s (${fmt(x.cpu, 2)} s CPU), ${fmt(x.perFile, 2)} s a file` + (x.ratioVsNfpcapdPerFile === null ? '' : ` = ${x.ratioVsNfpcapdPerFile.toFixed(2)}x nfpcapd on one`))
}
if (results.floor.length) {
  lines.push('')
  lines.push('start-up floor (bench/floor.js; no hashing, appends or commit): the best ratio to nfpcapd any ingest in this process model could reach')
  lines.push(['capture', 'what', 'wall s', 'cpu s', 'ratio at best'].join('\t'))
  for (const x of results.floor) lines.push([x.capture, x.what, fmt(x.wall, 2), fmt(x.cpu, 2), x.bestRatioVsNfpcapd === null ? '-' : `${x.bestRatioVsNfpcapd.toFixed(2)}x`].join('\t'))
}
if (results.flowExport) {
  const x = results.flowExport
  lines.push('')
  lines.push(`flow exports: ${fmt(x.recordsPerSec)} records/s, ${fmt(x.datagramsPerSec)} datagrams/s decoded (NetFlow v9/IPFIX from pmacct and 20 vendors, in process, ${fmt(x.seconds, 1)} s)`)
}
if (results.sampling.length) {
  lines.push('')
  lines.push('sampling: bench sampling (7 rates x 4 samplers x 100 trials, whole process) beside one plain ingest of the same file')
  lines.push(['capture', 'cells', 'trials', 'wall s', 'cpu s', 'peak RSS MB', 'ingest wall s', 'sweep/ingest'].join('\t'))
  for (const x of results.sampling) lines.push([x.capture, x.cells, x.trials, fmt(x.wall, 2), fmt(x.cpu, 2), fmt(x.rssMB), fmt(x.ingestWall, 2), x.ratioToIngest === null ? '-' : `${x.ratioToIngest.toFixed(2)}x`].join('\t'))
}
if (results.query.length) {
  lines.push('')
  lines.push(`query: top srcip --by bytes -n 10, whole-process wall and CPU (medians of ${results.query[0].reps}, interleaved), beside nfdump -s srcip/bytes -n 10 on nfpcapd files of the same capture`)
  lines.push(['flow table', 'flows', 'flowscope s', 'nfdump s', 'difference s', 'flowscope cpu s', 'nfdump cpu s', 'flowscope RSS MB'].join('\t'))
  for (const q of results.query) {
    lines.push(
      [q.table, q.flows, fmt(q.flowscopeTopWall, 3), fmt(q.nfdumpTopWall, 3), fmt(q.flowscopeTopWall - q.nfdumpTopWall, 3), fmt(q.flowscopeTopCpu, 2), fmt(q.nfdumpTopCpu, 2), fmt(q.flowscopeTopRssMB)].join('\t'),
    )
  }
}
if (results.hostile.length) {
  lines.push('')
  lines.push(`hostile inputs (issue #20): peak RSS of whole-process ingests (${results.hostile[0].runs} runs each), the worst against the ${results.hostile[0].boundMB} MB bound`)
  lines.push(['input', 'what', 'median wall s', 'peak RSS MB of each run', 'worst of the bound'].join('\t'))
  for (const x of results.hostile) lines.push([x.input, x.what, fmt(x.wall, 1), x.rssMB.map((v) => fmt(v)).join(', '), `${x.ratioToBound.toFixed(2)}x`].join('\t'))
}
if (results.incidents.length) {
  lines.push('')
  lines.push('incidents (issue #16): building them inside analyze (evidence from the flows, rules, writing), against the 10% target')
  lines.push(['capture', 'window detections', 'incidents', 'analyze wall s', 'incidents s', 'added to the rest of analyze'].join('\t'))
  for (const x of results.incidents) lines.push([`gen-${x.capture}`, x.detections, x.incidents, fmt(x.analyzeWallS, 2), fmt(x.incidentsWallS, 2), `${(100 * x.addedShare).toFixed(1)}%`].join('\t'))
}
const text = lines.join('\n')
process.stdout.write(`${text}\n`)
writeFileSync(path.join(OUT, 'results.json'), JSON.stringify(results, null, 2))
process.stderr.write(`results: ${path.join(OUT, 'results.json')}\n`)

// ---- the other layers' benchmarks, each its own script (they print their own tables) ----
const extra = [
  ['detection', 'detection-eval.js', {DETECTION_STAGES: process.env.DETECTION_STAGES ?? 'auc,real,throughput'}],
  ['analyze', 'analyze-bench.js', {}],
  ['stream', 'stream-bench.js', {}],
]
for (const [name, script, env] of extra) {
  if (process.env[`BENCH_${name.toUpperCase()}`] === '0' || !existsSync(path.join(ROOT, 'bench', script))) continue
  process.stdout.write(`\n==== ${name}: bench/${script} ====\n`)
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bench', script)], {cwd: ROOT, env: {...process.env, ...env}, stdio: 'inherit'})
  if (r.status !== 0) process.stdout.write(`(bench/${script} exited ${r.status})\n`)
}
