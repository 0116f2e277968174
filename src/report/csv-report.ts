/**
 * One table of the report as CSV, for spreadsheets and other tools: `--csv incidents` (the default:
 * incidents lead the report), `detections` (the window detections, each with its incident id), `types`, `timeline`, `talkers`, `runs` or `sampling`. Values are raw numbers and ISO times (UTC),
 * not the rounded text of the terminal; text goes through `csvCell` (quoting, formula neutralising).
 */
import {csvRecord} from './escape.js'
import type {ReportData} from './report-data.js'
import type {IncidentList} from './incidents-data.js'

export const REPORT_CSV_TABLES = ['incidents', 'detections', 'types', 'timeline', 'talkers', 'runs', 'sampling'] as const
export type ReportCsvTable = (typeof REPORT_CSV_TABLES)[number]

interface CsvTable {
  columns: string[]
  rows: unknown[][]
}

export function renderReportCsv(r: ReportData, table: ReportCsvTable = 'incidents'): string {
  return csvText(csvTable(r, table))
}

/** The incidents as CSV (`--csv incidents` of the report, `flowscope incidents --format csv`): one row each, intervals as low/high columns. */
export function renderIncidentsCsv(l: IncidentList): string {
  return csvText(incidentsTable(l))
}

function csvText(t: CsvTable): string {
  return csvRecord(t.columns) + t.rows.map(csvRecord).join('')
}

function incidentsTable(l: IncidentList): CsvTable {
  return {
    columns: [
      'incident_id', 'network', 'entity', 'role', 'type', 'first_seen', 'last_seen', 'windows', 'peak_score', 'severity', 'confidence',
      'confidence_text', 'status', 'sampling_rate', 'est_packets', 'est_packets_low', 'est_packets_high', 'est_bytes', 'est_bytes_low',
      'est_bytes_high', 'counterparts', 'counterparts_role', 'counterparts_seen_once_share', 'counterparts_likely_spoofed', 'services',
      'summary', 'run_id',
    ],
    rows: l.items.map((i) => {
      const e = i.evidence
      const c = i.counterparts
      return [
        i.id, i.network, i.entity, i.role, i.type, i.firstSeen, i.lastSeen, i.windows, i.peakScore, i.severity, i.confidence,
        e?.confidenceText ?? null, i.status, e?.samplingRate ?? null,
        e?.estimated?.packets.estimate ?? null, e?.estimated?.packets.low ?? null, e?.estimated?.packets.high ?? null,
        e?.estimated?.bytes.estimate ?? null, e?.estimated?.bytes.low ?? null, e?.estimated?.bytes.high ?? null,
        c?.total ?? null, c?.role ?? null, c?.seenOnceShare ?? null, c === null ? null : c.likelySpoofed,
        // `port:name=share` pairs, largest first, splittable on `;`
        c?.services?.map((s) => `${s.port}:${s.name}=${s.share}`).join(';') ?? null,
        e?.summary ?? null, i.runId,
      ]
    }),
  }
}

function csvTable(r: ReportData, table: ReportCsvTable): CsvTable {
  switch (table) {
    case 'incidents':
      return incidentsTable(r.incidents)
    case 'detections':
      return {
        columns: ['score', 'threshold', 'ratio', 'network', 'address', 'asn', 'as_name', 'window_start', 'window_end', 'type', 'pass', 'model', 'features', 'run_id', 'detected_at', 'incident_id'],
        rows: r.detections.rows.map((d) => [
          d.score,
          d.threshold,
          d.ratio,
          d.network,
          d.address,
          d.asn,
          d.asName,
          d.windowStart,
          d.windowEnd,
          d.type,
          d.pass,
          d.model,
          // `name=z` pairs, strongest first: readable in a cell, and splittable on `;`
          d.features.map((f) => `${f.name}=${f.z ?? ''}`).join(';'),
          d.runId,
          d.detectedAt,
          d.incidentId,
        ]),
      }
    case 'types':
      return {columns: ['type', 'detections', 'addresses', 'max_score'], rows: r.detections.byType.map((t) => [t.type, t.count, t.addresses, t.maxScore])}
    case 'timeline': {
      const det = new Map<string, number>()
      for (const d of r.detections.timeline) det.set(d.bucketStart, (det.get(d.bucketStart) ?? 0) + d.count)
      return {
        columns: ['bucket_start', 'bucket_seconds', 'flows', 'packets', 'bytes', 'bytes_scaled', 'detections'],
        rows: r.traffic.timeline.map((b) => [b.bucketStart, r.traffic.bucketSeconds, b.flows, b.packets, b.bytes, b.bytesScaled, det.get(b.bucketStart) ?? 0]),
      }
    }
    case 'talkers':
      return {
        columns: ['address', 'flows', 'packets', 'bytes', 'bytes_scaled', 'detections'],
        rows: r.traffic.topTalkers.map((t) => [t.address, t.flows, t.packets, t.bytes, t.bytesScaled, t.detections]),
      }
    case 'runs':
      return {
        columns: [
          'run_id', 'kind', 'status', 'network', 'started_at', 'finished_at', 'wall_s', 'cpu_user_s', 'cpu_system_s', 'peak_rss_mb',
          'peak_rss_total_mb', 'addresses', 'addresses_per_s', 'addresses_per_cpu_s', 'buckets', 'map_hits', 'map_misses', 'reuse_ratio',
          'failures', 'detections',
        ],
        rows: r.runs.map((x) => [
          x.runId, x.kind, x.status, x.network, x.startedAt, x.finishedAt, x.wallS, x.cpuUserS, x.cpuSystemS, x.peakRssMb,
          x.peakRssTotalMb, x.addresses, x.addressesPerS, x.addressesPerCpuS, x.buckets, x.mapHits, x.mapMisses, x.reuseRatio,
          x.failures, x.detections,
        ]),
      }
    case 'sampling':
      return {
        columns: ['origin', 'sampler', 'metric', 'rate', 'one_in_n', 'n', 'with_truth', 'rel_rmse', 'rel_bias', 'coverage', 'mean_rel_stderr', 'bound'],
        rows: r.sampling.cells.map((c) => [
          c.origin, c.sampler, c.metric, c.rate, c.oneInN, c.n, c.withTruth, c.relRmse, c.relBias, c.coverage, c.meanRelStderr, c.bound,
        ]),
      }
  }
}
