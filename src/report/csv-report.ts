/**
 * One table of the report as CSV, for spreadsheets and other tools: `--csv detections` (the default),
 * `types`, `timeline`, `talkers`, `runs` or `sampling`. Values are raw numbers and ISO times (UTC),
 * not the rounded text of the terminal; text goes through `csvCell` (quoting, formula neutralising).
 */
import {csvRecord} from './escape.js'
import type {ReportData} from './report-data.js'

export const REPORT_CSV_TABLES = ['detections', 'types', 'timeline', 'talkers', 'runs', 'sampling'] as const
export type ReportCsvTable = (typeof REPORT_CSV_TABLES)[number]

interface CsvTable {
  columns: string[]
  rows: unknown[][]
}

export function renderReportCsv(r: ReportData, table: ReportCsvTable = 'detections'): string {
  const t = csvTable(r, table)
  return csvRecord(t.columns) + t.rows.map(csvRecord).join('')
}

function csvTable(r: ReportData, table: ReportCsvTable): CsvTable {
  switch (table) {
    case 'detections':
      return {
        columns: ['score', 'threshold', 'ratio', 'network', 'address', 'asn', 'as_name', 'window_start', 'window_end', 'type', 'pass', 'model', 'features', 'run_id', 'detected_at'],
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
