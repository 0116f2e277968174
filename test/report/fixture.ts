/**
 * A small hand-made store for report tests: two networks (one with a hostile name), 16 minutes of
 * flows, detections of several types (some with hostile addresses, AS names, model and feature
 * names), four runs, sampling estimates with a ground truth and a benchmark's summaries. Everything is fixed, so renderings
 * can be snapshotted.
 */
import {FlowStore} from '../../src/io/index.js'

export const HOSTILE = {
  network: 'lab<script>alert(1)</script>',
  address: "=cmd|' /C calc'!A0",
  asName: 'Evil "AS" <img src=x onerror=alert(2)>\u001b[31mRED\u001b[0m\nINJECTED,row',
  model: 'model|pipe*bold*\u202eevil',
  type: '+SUM(1,2)',
  feature: '</td><script>alert(3)</script>',
  sampler: '@sampler\u0007',
} as const

/** 2026-01-05T00:00:00Z */
export const T0 = Date.UTC(2026, 0, 5, 0, 0, 0)
/** the clock the report tests give `buildReport` */
export const NOW = (): number => T0 + 3_600_000

const ts = (offsetS: number): string => new Date(T0 + offsetS * 1000).toISOString().replace('T', ' ').replace('Z', '')

export interface FixtureDetection {
  network: string
  address: string
  startS: number
  model: string
  pass: string
  score: number
  threshold: number
  type: string
  features: {name: string; value: number; z: number}[]
  asn: number | null
  asName: string | null
}

export const DETECTIONS: FixtureDetection[] = [
  {network: 'lab', address: '10.1.0.66', startS: 120, model: 'ae-default@1a2b3c', pass: 'post', score: 9.5, threshold: 2.5, type: 'scan', features: [{name: 'distinct_dst_ports', value: 812, z: 14.2}, {name: 'syn_only_frac', value: 0.97, z: 9.1}, {name: 'peer_entropy', value: 0.4, z: -3.3}], asn: 64500, asName: 'EXAMPLE-NET'},
  {network: 'lab', address: '10.1.0.66', startS: 420, model: 'ae-default@1a2b3c', pass: 'first', score: 7.25, threshold: 2.5, type: 'scan', features: [{name: 'distinct_dst_ports', value: 640, z: 11}], asn: 64500, asName: 'EXAMPLE-NET'},
  {network: 'lab', address: 'fd00:1::beef', startS: 300, model: 'ae-default@1a2b3c', pass: 'post', score: 5.5, threshold: 2.5, type: 'flood', features: [{name: 'bytes_in', value: 1.2e9, z: 22.5}, {name: 'small_pkt_frac', value: 0.88, z: 6.4}], asn: null, asName: null},
  {network: 'lab', address: '10.1.0.7', startS: 600, model: 'ae-default@1a2b3c', pass: 'post', score: 3.1, threshold: 2.5, type: 'beaconing', features: [{name: 'active_subbin_share', value: 1, z: 4.2}], asn: 64501, asName: 'Ünïcødé 网络 Networks'},
  {network: 'lab', address: HOSTILE.address, startS: 660, model: HOSTILE.model, pass: 'post', score: 4.4, threshold: 2, type: HOSTILE.type, features: [{name: HOSTILE.feature, value: 1, z: 5}], asn: 666, asName: HOSTILE.asName},
  {network: HOSTILE.network, address: '192.0.2.1', startS: 780, model: 'ae-default@1a2b3c', pass: 'stream', score: 2.75, threshold: 2.5, type: 'exfiltration', features: [{name: 'out_in_ratio', value: 40, z: 7.7}], asn: 64502, asName: HOSTILE.asName},
]

export interface FixtureIncident {
  id: string
  network: string
  entity: string
  role: string | null
  type: string
  firstS: number
  lastS: number
  windows: number
  peakScore: number
  severity: number
  confidence: string | null
  counterparts: unknown
  evidence: unknown
  status: string
  /** addresses whose detections (of the same network) link to it */
  detections: string[]
}

/** The full shape of a stored incident's evidence (incident-record.ts), with its figures. */
const fullEvidence = (summary: string, confidenceText: string, rate: number, packets: number, bytes: number) => ({
  summary,
  confidenceText,
  samplingRate: rate,
  sampled: {records: packets, packets, bytes},
  estimated: {
    packets: {estimate: packets * rate, low: Math.round(packets * rate * 0.8), high: Math.round(packets * rate * 1.25)},
    bytes: {estimate: bytes * rate, low: Math.round(bytes * rate * 0.8), high: Math.round(bytes * rate * 1.25)},
  },
  detectionTypes: {flood: 1},
  peakWindow: {start: '2026-01-05T00:05:00.000Z', end: '2026-01-05T00:10:00.000Z'},
  model: 'ae-default@1a2b3c',
  pass: 'post',
  threshold: 2.5,
  topFeatures: [{name: 'bytes_in', value: 1.2e9, z: 22.5}],
})

/**
 * Incidents in both shapes: full (role, confidence, counterparts and evidence as incident-record.ts
 * has them) and old (role, confidence and counterparts NULL, evidence only the peak window in
 * snake_case keys, as rows written before those were filled), one of them hostile.
 */
export const INCIDENTS: FixtureIncident[] = [
  {
    id: 'inc-synflood', network: 'lab', entity: 'fd00:1::beef', role: 'victim', type: 'syn_flood', firstS: 300, lastS: 600, windows: 1, peakScore: 5.5,
    severity: 4, confidence: 'high',
    counterparts: {
      total: 545, role: 'sources', seenOnceShare: 0.99, likelySpoofed: true,
      sample: [{address: '198.51.100.7', role: 'source', records: 2, packets: 200, bytes: 8000, share: 0.004}],
      folded: ['198.51.100.7'],
    },
    evidence: fullEvidence('SYN-only packets to one port from 545 sources', 'many sampled packets: the rate is well established', 100, 1200, 48000),
    status: 'open', detections: ['fd00:1::beef'],
  },
  {
    id: 'inc-scan-old', network: 'lab', entity: '10.1.0.66', role: null, type: 'scan', firstS: 120, lastS: 720, windows: 2, peakScore: 9.5,
    severity: 5, confidence: null, counterparts: null,
    evidence: {
      peak_window: {start: '2026-01-05T00:02:00.000Z', end: '2026-01-05T00:07:00.000Z'}, model: 'ae-default@1a2b3c', pass: 'post', threshold: 2.5,
      top_features: [{name: 'distinct_dst_ports', value: 812, z: 14.2}],
    },
    status: 'closed', detections: ['10.1.0.66'],
  },
  {
    id: 'inc-amp', network: 'lab', entity: '10.1.0.7', role: 'victim', type: 'udp_amplification', firstS: 600, lastS: 900, windows: 1, peakScore: 3.1,
    severity: 2, confidence: 'medium',
    counterparts: {
      total: 12, role: 'reflectors', seenOnceShare: 0.25, likelySpoofed: false,
      sample: [{address: '203.0.113.53', role: 'reflector', records: 9, packets: 900, bytes: 1_200_000, share: 0.6}],
      services: [{port: 53, name: 'DNS', share: 0.8}, {port: 123, name: 'NTP', share: 0.2}],
    },
    evidence: fullEvidence('UDP from source port 53 and 123, 40× the bytes sent', 'a few dozen sampled packets: the size is known within a factor of two', 100, 30, 40000),
    status: 'open', detections: ['10.1.0.7'],
  },
  {
    id: 'inc-hostile', network: HOSTILE.network, entity: HOSTILE.address, role: null, type: HOSTILE.type, firstS: 660, lastS: 960, windows: 1, peakScore: 4.4,
    severity: 1, confidence: 'low',
    counterparts: {total: 1, role: HOSTILE.feature, seenOnceShare: 1, likelySpoofed: false, sample: [{address: HOSTILE.asName, role: 'peer', records: 1, packets: 1, bytes: 40, share: 1}]},
    evidence: {summary: HOSTILE.feature, confidence_text: HOSTILE.asName, peak_window: {start: '2026-01-05T00:11:00.000Z', end: '2026-01-05T00:16:00.000Z'}, model: HOSTILE.model},
    status: 'open', detections: [],
  },
]

/** Opens an in-memory store (or the file `path`) and fills it with the fixture. */
export async function makeFixtureStore(path = ':memory:'): Promise<FlowStore> {
  const store = await FlowStore.open(path)
  await fillFixture(store)
  return store
}

export async function fillFixture(store: FlowStore): Promise<void> {
  await store.run(
    `INSERT INTO sources (source_id, path, size, sha256, format, network, packets, flows, bytes, skipped, ts_first, ts_last, sampling_rate, ingested_at)
     VALUES (101, 'lab.pcap', 1000, 'aa', 'pcap', 'lab', 20000, 96, 0, 0, TIMESTAMP '${ts(0)}', TIMESTAMP '${ts(960)}', 1, TIMESTAMP '${ts(3000)}'),
            (102, $p, 10, 'bb', 'pcap', $n, 100, 4, 0, 0, TIMESTAMP '${ts(0)}', TIMESTAMP '${ts(960)}', 1, TIMESTAMP '${ts(3000)}')`,
    {p: `${HOSTILE.network}.pcap`, n: HOSTILE.network},
  )
  // 96 flows in lab, one every 10 s from 7 hosts; bytes grow with the host number and spike at minute 5
  await store.run(
    `INSERT INTO flows
     SELECT 'lab', NULL, TIMESTAMP '${ts(0)}' + INTERVAL (i * 10) SECOND, TIMESTAMP '${ts(0)}' + INTERVAL (i * 10 + 5) SECOND,
            '10.1.0.' || (i % 7), '10.1.1.1', 40000 + i, 443, 6, 24,
            10 + i % 7, (1000 * (1 + i % 7) + CASE WHEN i BETWEEN 30 AND 35 THEN 50000 ELSE 0 END)::UBIGINT,
            CASE WHEN i % 7 = 6 THEN 100 ELSE 1 END, 101, 4, 0, 0, NULL, NULL
       FROM range(96) t(i)`,
  )
  await store.run(
    `INSERT INTO flows VALUES ($n, NULL, TIMESTAMP '${ts(100)}', TIMESTAMP '${ts(200)}', $a, '10.9.9.9', 1, 2, 17, 0, 4, 4000, 1, 102, 4, 0, 0, NULL, NULL)`,
    {n: HOSTILE.network, a: HOSTILE.address},
  )
  for (const d of DETECTIONS) {
    await store.run(
      `INSERT INTO detections VALUES ($network, $address, TIMESTAMP '${ts(d.startS)}', TIMESTAMP '${ts(d.startS + 300)}', $model, $pass,
              $score, $threshold, $type, $features, $asn, $as_name, 7, TIMESTAMP '${ts(1000)}', NULL)`,
      {
        network: d.network,
        address: d.address,
        model: d.model,
        pass: d.pass,
        score: d.score,
        threshold: d.threshold,
        type: d.type,
        features: JSON.stringify(d.features),
        asn: d.asn,
        as_name: d.asName,
      },
    )
  }
  for (const i of INCIDENTS) {
    await store.run(
      `INSERT INTO incidents VALUES ($id, $network, $entity, $role, $type, TIMESTAMP '${ts(i.firstS)}', TIMESTAMP '${ts(i.lastS)}', $windows,
              $peak, $severity, $confidence, $counterparts, $evidence, $status, 7)`,
      {
        id: i.id,
        network: i.network,
        entity: i.entity,
        role: i.role,
        type: i.type,
        windows: i.windows,
        peak: i.peakScore,
        severity: i.severity,
        confidence: i.confidence,
        counterparts: i.counterparts === null ? null : JSON.stringify(i.counterparts),
        evidence: JSON.stringify(i.evidence),
        status: i.status,
      },
    )
    for (const address of i.detections) {
      await store.run('UPDATE detections SET incident_id = $id WHERE network = $network AND address = $address', {id: i.id, network: i.network, address})
    }
  }
  await store.run(
    `INSERT INTO runs (run_id, kind, status, network, started_at, finished_at, wall_s, cpu_user_s, cpu_system_s, peak_rss_mb,
                       peak_rss_total_mb, addresses, addresses_per_s, addresses_per_cpu_s, buckets, map_hits, map_misses,
                       reuse_ratio, failures, detections, details)
     VALUES (5, 'analyze', 'ok', 'lab', TIMESTAMP '${ts(1100)}', TIMESTAMP '${ts(1112)}', 12.5, 30.25, 2.5, 310.5, 1200, 4210, 336.8, 128.5, 37, 3000, 1210, 0.71, 0, 5, '{}'),
            (6, 'analyze', 'partial', NULL, TIMESTAMP '${ts(1400)}', TIMESTAMP '${ts(1460)}', 60, 100.5, 8, 512, 2048, 9000, 150, 82.9, 80, 6000, 3000, 0.67, 2, 1, '{}'),
            (8, 'bench-sampling', 'ok', NULL, TIMESTAMP '${ts(2150)}', TIMESTAMP '${ts(2200)}', 50, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '{"trials": 100}'),
            (7, 'stream', 'ok', 'lab', TIMESTAMP '${ts(1800)}', NULL, NULL, NULL, NULL, 95.25, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
  )
  // sampling estimates of source 101 (20 000 packets) at 1/10, 1/100, 1/1000: errors about √(1/c)
  const rows: string[] = []
  const rates = [0.1, 0.01, 0.001]
  const samplers = ['systematic', 'bernoulli']
  let k = 0
  for (const rate of rates) {
    for (const sampler of samplers) {
      for (let trial = 0; trial < 4; trial++) {
        const rel = Math.sqrt(1 / (rate * 20000)) * [0.5, -1.1, 0.9, -0.3][trial]! * (sampler === 'bernoulli' ? 1.2 : 0.8)
        const truthP = 20000
        const truthB = 3_000_000
        const se = Math.sqrt(1 / (rate * 20000))
        rows.push(`(1, 101, '${sampler}', ${rate}, 'total_packets', NULL, ${truthP * (1 + rel)}, ${truthP * se}, ${truthP * (1 + rel - 1.96 * se)}, ${truthP * (1 + rel + 1.96 * se)}, ${truthP}, TIMESTAMP '${ts(2000 + k)}')`)
        rows.push(`(1, 101, '${sampler}', ${rate}, 'total_bytes', NULL, ${truthB * (1 + 1.3 * rel)}, ${truthB * 1.3 * se}, ${truthB * (1 + 1.3 * rel - 1.96 * 1.3 * se)}, ${truthB * (1 + 1.3 * rel + 1.96 * 1.3 * se)}, ${truthB}, TIMESTAMP '${ts(2000 + k)}')`)
        k++
      }
    }
  }
  // a per-key estimate (counted, not scored) and a hostile sampler name without truth
  rows.push(`(1, 101, 'systematic', 0.01, 'host_bytes', '10.1.0.1', 5000, 100, 4800, 5200, 5100, TIMESTAMP '${ts(2100)}')`)
  rows.push(`(1, 101, '${HOSTILE.sampler}', 100, 'total_packets', NULL, 19000, 1500, 16000, 22000, NULL, TIMESTAMP '${ts(2100)}')`)
  // a benchmark's summaries (`bench sampling`): no source, no truth, 100 trials in its run's details
  for (const [oneIn, rmse, bound] of [[256, 0.09, 0.113], [1024, 0.2, 0.226]] as const) {
    for (const [metric, value] of [['rmse_bytes', rmse], ['bias_bytes', -0.004], ['coverage_bytes', 0.95], ['rmse_packets', rmse * 0.8], ['theoretical_rel_stderr', bound], ['topk_recall', 0.9]] as const) {
      rows.push(`(8, NULL, 'sflow', ${1 / oneIn}, '${metric}', NULL, ${value}, 0, ${value}, ${value}, NULL, TIMESTAMP '${ts(2200)}')`)
    }
  }
  await store.run(`INSERT INTO estimates VALUES ${rows.join(',\n')}`)
}
