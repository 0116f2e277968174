#!/usr/bin/env node
// The bucketed post-processing engine against the naive per-address path, on one synthetic network with
// more than 100,000 active addresses (plain ESM over dist/: run `npm run build` first, or `npm run bench`).
//
// Data: flows are synthesized straight into a store (createFlowBatch/appendFlowRecord/createFlowAppender):
// a pcap of 100,000 busy hosts over two hours would take far longer to write and ingest than to analyse,
// and only the flows matter here. 440 client /24s of 250 hosts in 10.20.0.0/14 (4 sessions an hour on
// average, log-normal per host), internal services (DNS, SMB, LDAP/Kerberos, SSH, intranet) in
// 10.10.0.0/24, 8,000 external servers at addresses inside the announced prefixes of 24 real ASes (from
// the ip-location-db ASN set), Zipf popularity; plus low-and-slow attackers (connect sweeps, beacons,
// SSH brute force) so the post pass has something to find. The model is trained, and the post pass
// calibrated, on two smaller benign networks from the same generator.
//
// Measured, on the same data in the same process:
//   A  bucketed, 2 workers, the hour [60, 120) min            (post pass: addresses per CPU-second, wall, RSS)
//   C  bucketed, 1 worker, the same hour                       (scaling 1 → 2 workers: post addresses/s A vs C;
//      A and C are repeated alternately BENCH_ANALYZE_REPEATS times (default 2) and the best of each
//      kept, since other processes on a shared machine take CPU away from one run and not the next)
//   D  naive (--no-buckets), 2 workers, a sample of addresses  (addresses per CPU-second; ratio A/D)
//   B  bucketed, 2 workers, [75, 135) min with A's inference map (reuse ratio on a second window)
// Results: a table on stdout, bench/out/analyze-bench.json, and the returned object.
import {spawn} from 'node:child_process'
import {copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const OUT = path.join(ROOT, 'bench/out')
const dist = (p) => import(path.join(ROOT, 'dist', p))

const MINUTE = 60_000_000
const HOUR = 60 * MINUTE
const T0 = Date.UTC(2026, 0, 5) * 1000
const V4_MAPPED = 281470681743360n

/** ASes whose announced IPv4 prefixes host the external servers (content, cloud, CDN, ISPs). */
const SERVER_ASNS = [15169, 13335, 16509, 8075, 20940, 32934, 54113, 14618, 2906, 16625, 36459, 13414, 46489, 8068, 714, 24940, 16276, 63949, 14061, 3320, 7922, 3356, 6939, 4134]

export async function analyzeBench(options = {}) {
  const subnets = options.subnets ?? Number(process.env.BENCH_ANALYZE_SUBNETS ?? 460)
  const naiveSample = options.naiveSample ?? Number(process.env.BENCH_ANALYZE_NAIVE_SAMPLE ?? 300)
  const repeats = options.repeats ?? Number(process.env.BENCH_ANALYZE_REPEATS ?? 2)
  const workers = options.workers ?? 2
  mkdirSync(OUT, {recursive: true})
  const {FlowStore} = await dist('io/index.js')
  const {createFlowBatch, appendFlowRecord, createRng} = await dist('core/index.js')
  const {runAnalyze, calibratePost, InferenceMap, ensureAsnDatabase, enrichFlowsWithAsn} = await dist('buckets/index.js')
  const {computeFeatures, trainAutoencoder, exportOnnx} = await dist('infer/index.js')

  const prefixes = await serverPrefixes(FlowStore, await ensureAsnDatabase())

  async function synthesize(file, {seed, subnetCount, hostsPerSubnet, servers, slow}) {
    rmSync(file, {force: true})
    rmSync(`${file}.wal`, {force: true})
    const rng = createRng(seed)
    const store = await FlowStore.open(file)
    const appender = await store.createFlowAppender()
    const batch = createFlowBatch(65_536)
    let flows = 0
    const push = (r) => {
      if (batch.length === 65_536) {
        appender.append(batch, 'bench', 1)
        batch.length = 0
      }
      appendFlowRecord(batch, r)
      flows++
    }
    const v4 = (a, b, c, d) => (((a << 24) | (b << 16) | (c << 8) | d) >>> 0)
    const internalService = {53: [2, 3], 445: [10, 11, 12, 13, 14, 15, 16, 17, 18, 19], 389: [20, 21], 88: [22, 23], 22: [30, 31, 32, 33, 34], 443: [40, 41, 42, 43, 44]}
    const serverAddr = Array.from({length: servers}, () => pickServer(prefixes, rng))
    const zipf = zipfTable(servers, 0.9)
    const hostAddr = (s, h) => v4(10, 20 + (s >> 8), s & 255, 1 + h)
    const session = (t, client, server, port, kind) => {
      const eph = 49_152 + rng.int(16_384)
      if (kind === 'dns') {
        push({tsStart: t, tsEnd: t + 2000, family: 4, src: [client], dst: [server], srcPort: eph, dstPort: 53, proto: 17, tcpFlags: 0, packets: 1, bytes: 60 + rng.int(30)})
        push({tsStart: t + 1500, tsEnd: t + 1500, family: 4, src: [server], dst: [client], srcPort: 53, dstPort: eph, proto: 17, tcpFlags: 0, packets: 1, bytes: 100 + rng.int(300)})
        return
      }
      const small = kind === 'probe' || kind === 'login' || kind === 'beacon'
      const pk = small ? 4 + rng.int(kind === 'login' ? 10 : 3) : Math.max(3, Math.round(Math.exp(1.5 + 1.2 * gauss(rng))))
      const dur = small ? 200_000 + rng.int(2_000_000) : Math.round(pk * 20_000 * (0.5 + rng.next()))
      push({tsStart: t, tsEnd: t + dur, family: 4, src: [client], dst: [server], srcPort: eph, dstPort: port, proto: 6, tcpFlags: 0x1b, packets: pk, bytes: pk * (60 + rng.int(small ? 80 : 300))})
      const rpk = small ? pk - 1 : Math.max(2, Math.round(pk * (0.5 + 2 * rng.next())))
      push({tsStart: t + 300, tsEnd: t + dur, family: 4, src: [server], dst: [client], srcPort: port, dstPort: eph, proto: 6, tcpFlags: 0x1b, packets: rpk, bytes: rpk * (60 + rng.int(small ? 200 : 1400))})
    }
    const span = 2 * HOUR
    for (let s = 0; s < subnetCount; s++) {
      for (let h = 0; h < hostsPerSubnet; h++) {
        const client = hostAddr(s, h)
        const rate = Math.exp(Math.log(4) - 0.5 + gauss(rng))
        const n = poisson(rng, rate * 2)
        for (let k = 0; k < n; k++) {
          const t = T0 + Math.floor(rng.next() * span)
          const u = rng.next()
          if (u < 0.55) session(t, client, serverAddr[sampleZipf(zipf, rng)], rng.next() < 0.9 ? 443 : 80, 'web')
          else if (u < 0.8) session(t, client, v4(10, 10, 0, internalService[53][rng.int(2)]), 53, 'dns')
          else if (u < 0.9) session(t, client, v4(10, 10, 0, internalService[445][rng.int(10)]), 445, 'web')
          else if (u < 0.95) {
            const port = rng.next() < 0.5 ? 389 : 88
            session(t, client, v4(10, 10, 0, internalService[port][rng.int(2)]), port, 'web')
          } else if (u < 0.97) session(t, client, v4(10, 10, 0, internalService[22][rng.int(5)]), 22, 'web')
          else session(t, client, v4(10, 10, 0, internalService[443][rng.int(5)]), 443, 'web')
        }
      }
    }
    // low-and-slow attackers: compromised clients sweeping 445, beaconing clients, external SSH guessers
    for (let i = 0; i < slow; i++) {
      const period = 60 * 1e6 * Math.exp(Math.log(1) + rng.next() * Math.log(10))
      const scanner = hostAddr(rng.int(subnetCount), rng.int(hostsPerSubnet))
      for (let t = T0 + rng.int(10 * MINUTE), k = 0; t < T0 + span; t += period * (0.85 + 0.3 * rng.next()), k++) {
        session(Math.floor(t), scanner, hostAddr(rng.int(subnetCount), rng.int(hostsPerSubnet)), 445, 'probe')
      }
      const beacon = hostAddr(rng.int(subnetCount), rng.int(hostsPerSubnet))
      const c2 = pickServer(prefixes, rng)
      for (let t = T0 + rng.int(10 * MINUTE); t < T0 + span; t += period * 2 * (0.85 + 0.3 * rng.next())) session(Math.floor(t), beacon, c2, 443, 'beacon')
      const guesser = pickServer(prefixes, rng)
      const target = v4(10, 10, 0, internalService[22][rng.int(5)])
      for (let t = T0 + rng.int(10 * MINUTE); t < T0 + span; t += period * 1.5 * (0.85 + 0.3 * rng.next())) session(Math.floor(t), guesser, target, 22, 'login')
    }
    if (batch.length > 0) appender.append(batch, 'bench', 1)
    appender.close()
    await enrichFlowsWithAsn(store)
    await store.run('CHECKPOINT')
    await store.close()
    return flows
  }

  // the data, cached by its parameters
  const big = path.join(OUT, `analyze-${subnets}.duckdb`)
  const stamp = `${big}.json`
  const params = {version: 1, subnets, hostsPerSubnet: 250, servers: 8000, slow: 30, seed: 11}
  let flows
  if (existsSync(big) && existsSync(stamp) && JSON.stringify(JSON.parse(readFileSync(stamp, 'utf8')).params) === JSON.stringify(params)) {
    flows = JSON.parse(readFileSync(stamp, 'utf8')).flows
  } else {
    process.stderr.write(`synthesizing ${subnets} client /24s into ${big} …\n`)
    flows = await synthesize(big, {seed: params.seed, subnetCount: subnets, hostsPerSubnet: params.hostsPerSubnet, servers: params.servers, slow: params.slow})
    writeFileSync(stamp, JSON.stringify({params, flows}))
  }
  // cached per feature set: a model trained on another set is refused by this flowscope
  const {FEATURE_SET_VERSION} = await dist('infer/features.js')
  const model = path.join(OUT, `analyze-model-fs${FEATURE_SET_VERSION}.onnx`)
  if (!existsSync(`${model}.post.json`)) {
    process.stderr.write('training the model and calibrating the post pass on two benign networks …\n')
    const trainDb = path.join(OUT, 'analyze-train.duckdb')
    const calDb = path.join(OUT, 'analyze-calibrate.duckdb')
    await synthesize(trainDb, {seed: 2, subnetCount: 16, hostsPerSubnet: 250, servers: 2000, slow: 0})
    await synthesize(calDb, {seed: 3, subnetCount: 16, hostsPerSubnet: 250, servers: 2000, slow: 0})
    const store = await FlowStore.open(trainDb, {readOnly: true})
    const features = await computeFeatures(store, {})
    await store.close()
    const trained = trainAutoencoder(features, {seed: 1, maxEpochs: 25, patience: 5})
    await exportOnnx(trained.model, model, {network: 'bench'})
    await calibratePost(calDb, {model, workers})
  }

  const since = T0 + HOUR
  const until = T0 + 2 * HOUR
  const base = {model, workers, tmpDir: OUT}
  const copy = (name) => {
    // each run writes its detections and runs row: on a copy, so every run sees the same store
    const f = path.join(OUT, `analyze-run-${name}.duckdb`)
    rmSync(f, {force: true})
    rmSync(`${f}.wal`, {force: true})
    copyFileSync(big, f)
    return f
  }
  const map = new InferenceMap()
  process.stderr.write('A: bucketed, 2 workers …\n')
  const a = await runAnalyze(copy('a'), {...base, since, until, map})
  process.stderr.write('B: bucketed, 2 workers, 15 minutes later, same inference map …\n')
  const b = await runAnalyze(copy('b'), {...base, since: since + 15 * MINUTE, until: until + 15 * MINUTE, map})
  process.stderr.write('C: bucketed, 1 worker …\n')
  let c = await runAnalyze(copy('c'), {...base, workers: 1, since, until})
  const scaling = [{workers: 2, postWallS: a.phases.post.wallS}, {workers: 1, postWallS: c.phases.post.wallS}]
  let bestA = a
  for (let i = 1; i < repeats; i++) {
    process.stderr.write(`A/C again (${i + 1} of ${repeats}) …\n`)
    const a2 = await runAnalyze(copy('a'), {...base, since, until})
    const c2 = await runAnalyze(copy('c'), {...base, workers: 1, since, until})
    scaling.push({workers: 2, postWallS: a2.phases.post.wallS}, {workers: 1, postWallS: c2.phases.post.wallS})
    if (a2.phases.post.wallS < bestA.phases.post.wallS) bestA = a2
    if (c2.phases.post.wallS < c.phases.post.wallS) c = c2
  }
  // the naive sample: unflagged addresses spread over the whole plan
  const found = [...new Set(a.postDetections.map((d) => d.address))]
  const pool = await sampleAddresses(FlowStore, big, since, until, naiveSample, found)
  process.stderr.write(`D: naive, 2 workers, ${pool.length} addresses …\n`)
  const d = await runAnalyze(copy('d'), {...base, since, until, buckets: false, only: pool})
  for (const name of ['a', 'b', 'c', 'd']) rmSync(path.join(OUT, `analyze-run-${name}.duckdb`), {force: true})

  const row = (label, r) => ({
    label,
    mode: r.mode,
    workers: r.workers,
    addresses: r.addresses.analysed,
    buckets: r.buckets.jobs,
    postWallS: r.phases.post.wallS,
    steps: {planS: r.phases.post.planS, exportS: r.phases.post.exportS, startS: r.phases.post.startS, jobsS: r.phases.post.jobsS},
    postCpuS: r.phases.post.cpuS,
    addressesPerS: r.phases.post.addressesPerS,
    addressesPerCpuS: r.phases.post.addressesPerCpuS,
    peakRssMb: r.resources.peakRssMb,
    peakRssTotalMb: r.resources.peakRssTotalMb,
    mapHits: r.map.hits,
    mapMisses: r.map.misses,
    reuseRatio: r.map.reuseRatio,
    firstPassWallS: r.phases.firstPass.wallS,
    detections: r.detections,
    wallS: r.resources.wallS,
    incidents: r.incidents,
  })
  const rows = [row('A bucketed', bestA), row('C bucketed', c), row('D naive (sample)', d), row('B 2nd window', b)]
  // what this machine gives two processes at this moment: a fixed CPU spin in 1 and in 2 processes
  const machine = await machineScaling()
  const results = {
    date: new Date().toISOString(),
    node: process.version,
    cores: os.availableParallelism(),
    loadAverage: os.loadavg(),
    data: {flows, activeAddresses: a.addresses.total, clientSubnets: subnets, servers: params.servers, serverAses: SERVER_ASNS.length},
    runs: rows,
    ratios: {
      bucketedVsNaiveAddressesPerCpuS: bestA.phases.post.addressesPerCpuS / d.phases.post.addressesPerCpuS,
      workers1to2: bestA.phases.post.addressesPerS / c.phases.post.addressesPerS,
      scalingRuns: scaling,
      // what 2 workers would give on an otherwise idle machine: total worker CPU over the busiest worker's
      workBalance2: balance(bestA),
      // the same 1 → 2 process ratio for a pure CPU spin: what the machine allows right now
      machine1to2: machine,
      reuseRatioSecondWindow: b.map.reuseRatio,
    },
  }
  writeFileSync(path.join(OUT, 'analyze-bench.json'), `${JSON.stringify(results, null, 2)}\n`)
  process.stdout.write(renderTable(results))
  return results
}

function balance(r) {
  const cpu = r.processes.filter((p) => p.role === 'worker').map((p) => p.cpuUserS + p.cpuSystemS)
  return cpu.reduce((x, y) => x + y, 0) / Math.max(...cpu)
}

function renderTable(r) {
  const f = (n, d = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', {maximumFractionDigits: d, minimumFractionDigits: d}) : '-')
  const head = ['run', 'workers', 'addresses', 'jobs', 'post wall s', 'post CPU s', 'addr/s', 'addr/CPU-s', 'peak RSS MB', 'RSS total MB', 'map hits/misses', 'reuse']
  const body = r.runs.map((x) => [
    x.label,
    String(x.workers),
    f(x.addresses),
    f(x.buckets),
    f(x.postWallS, 1),
    f(x.postCpuS, 1),
    f(x.addressesPerS),
    f(x.addressesPerCpuS, 1),
    f(x.peakRssMb),
    f(x.peakRssTotalMb),
    `${f(x.mapHits)}/${f(x.mapMisses)}`,
    f(x.reuseRatio, 2),
  ])
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)))
  const line = (cells) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')
  return [
    `analyze bench: ${f(r.data.flows)} flows, ${f(r.data.activeAddresses)} active addresses (${r.data.clientSubnets} client /24s, ${f(r.data.servers)} servers in ${r.data.serverAses} ASes); ${r.cores} cores, load ${r.loadAverage.map((x) => x.toFixed(1)).join(' ')}`,
    line(head),
    ...body.map(line),
    `bucketed vs naive, post addresses per CPU-second: ${f(r.ratios.bucketedVsNaiveAddressesPerCpuS, 1)}x (target >= 10x)`,
    `1 -> 2 workers, post addresses per second: ${f(r.ratios.workers1to2, 2)}x (target >= 1.6x; work balance over the 2 workers ${f(r.ratios.workBalance2, 2)}x, the bound on an idle machine)`,
    `   (a pure CPU spin in 1 vs 2 processes on this machine right now: ${f(r.ratios.machine1to2, 2)}x)`,
    `inference-map reuse on the second window: ${f(r.ratios.reuseRatioSecondWindow * 100, 1)}%`,
    ...r.runs.map(
      (x) =>
        `${x.label}: ${f(x.detections.first + x.detections.post)} window detections -> ${f(x.incidents.total)} incidents in ${f(x.incidents.wallS, 2)} s, ` +
        `${f((100 * x.incidents.wallS) / x.wallS, 1)}% of the run's ${f(x.wallS, 1)} s wall (target < 10%)`,
    ),
    '',
  ].join('\n')
}

async function machineScaling() {
  const spin = 'let x = 0; for (let i = 0; i < 3e8; i++) x += i % 7; if (x < 0) console.log(x)'
  const run = async (n) => {
    const t0 = performance.now()
    await Promise.all(Array.from({length: n}, () => new Promise((resolve) => spawn(process.execPath, ['-e', spin], {stdio: 'ignore'}).on('exit', resolve))))
    return performance.now() - t0
  }
  const one = await run(1)
  const two = await run(2)
  // two processes did twice the work
  return (2 * one) / two
}

async function serverPrefixes(FlowStore, asnFile) {
  const store = await FlowStore.open(asnFile, {readOnly: true})
  try {
    const rows = await store.all(
      `SELECT lo::VARCHAR AS lo, hi::VARCHAR AS hi, asn FROM asn_ranges
        WHERE asn IN (${SERVER_ASNS.join(',')}) AND lo >= ${V4_MAPPED}::UHUGEINT AND hi < ${V4_MAPPED + (1n << 32n)}::UHUGEINT
        ORDER BY asn, lo`,
    )
    const byAsn = new Map()
    for (const r of rows) {
      const lo = Number(BigInt(r.lo) - V4_MAPPED)
      const hi = Number(BigInt(r.hi) - V4_MAPPED)
      if (!byAsn.has(r.asn)) byAsn.set(r.asn, [])
      byAsn.get(r.asn).push([lo, hi])
    }
    return [...byAsn.values()]
  } finally {
    await store.close()
  }
}

function pickServer(prefixes, rng) {
  const ranges = prefixes[rng.int(prefixes.length)]
  const [lo, hi] = ranges[rng.int(ranges.length)]
  return (lo + rng.int(Math.max(1, Math.min(hi - lo, 0x7fffffff)))) >>> 0
}

async function sampleAddresses(FlowStore, file, since, until, n, include) {
  const store = await FlowStore.open(file, {readOnly: true})
  try {
    const rows = await store.all(
      `SELECT DISTINCT src_ip AS ip FROM flows WHERE ts_start >= make_timestamp(${since}::BIGINT) AND ts_start < make_timestamp(${until}::BIGINT)
        ORDER BY hash(src_ip) LIMIT ${n}`,
    )
    return [...new Set([...include.slice(0, 20), ...rows.map((r) => r.ip)])]
  } finally {
    await store.close()
  }
}

function zipfTable(n, s) {
  const cdf = new Float64Array(n)
  let acc = 0
  for (let i = 0; i < n; i++) cdf[i] = acc += 1 / Math.pow(i + 1, s)
  for (let i = 0; i < n; i++) cdf[i] /= acc
  return cdf
}

function sampleZipf(cdf, rng) {
  const u = rng.next()
  let lo = 0
  let hi = cdf.length - 1
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (cdf[mid] > u) hi = mid
    else lo = mid + 1
  }
  return lo
}

function gauss(rng) {
  return Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next())
}

function poisson(rng, mean) {
  // Knuth for small means, normal approximation beyond
  if (mean > 30) return Math.max(0, Math.round(mean + Math.sqrt(mean) * gauss(rng)))
  const l = Math.exp(-mean)
  let k = 0
  let p = 1
  do {
    k++
    p *= rng.next()
  } while (p > l)
  return k - 1
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await analyzeBench()
}
