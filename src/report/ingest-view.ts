import type {IngestResult} from '../io/index.js'
import {humanBytes, humanCount, renderTable} from './table.js'

/** The table `flowscope ingest` prints: one row per file. */
export function renderIngestTable(results: readonly IngestResult[]): string {
  return renderTable(
    [
      {header: 'file', value: (r: IngestResult) => r.file},
      {header: 'status', value: (r) => r.status},
      {header: 'format', value: (r) => (r.content === 'flow-export' && (r.format === 'pcap' || r.format === 'pcapng') ? `${r.format}/export` : r.format)},
      {header: 'packets', value: (r) => r.packets, align: 'right'},
      {header: 'flows', value: (r) => r.flows, align: 'right'},
      {header: 'bytes', value: (r) => humanBytes(r.bytes), align: 'right'},
      {header: 'pkts/s', value: (r) => (r.status === 'ingested' ? humanCount(r.packetsPerSec) : '-'), align: 'right'},
      {header: 'first', value: (r) => r.tsFirst},
      {header: 'last', value: (r) => r.tsLast},
    ],
    [...results],
  )
}

/** The warnings one file's ingest deserves: already stored, skipped records, export trouble. */
export function ingestWarnings(r: IngestResult): string[] {
  const out: string[] = []
  if (r.status === 'unchanged') out.push(`${r.file}: already in the store (source ${r.sourceId}, same content); nothing to do`)
  if (r.badRecords > 0) out.push(`${r.file}: skipped ${r.badRecords} bad record(s)`)
  const x = r.flowExport
  if (x && x.undecodableSets > 0) out.push(`${r.file}: ${x.undecodableSets} data set(s) could not be decoded (their template never arrived)`)
  if (x && x.malformed > 0) out.push(`${r.file}: ${x.malformed} malformed export structure(s), first: ${x.problems[0]?.exporter} offset ${x.problems[0]?.offset}: ${x.problems[0]?.detail}`)
  return out
}
