import {
  DuckDBAppender,
  DuckDBDataChunk,
  DuckDBTimestampValue,
  INTEGER,
  TIMESTAMP,
  UBIGINT,
  UHUGEINT,
  UINTEGER,
  USMALLINT,
  UTINYINT,
  VARCHAR,
} from '@duckdb/node-api'
import type {DuckDBVector} from '@duckdb/node-api'

import type {FlowBatch} from './flow-batch.js'
import {addrToBigInt, addrToString} from './ip.js'

/**
 * Appends FlowBatches to `flows` in the column order of `FLOW_COLUMNS`, a DuckDB data chunk (2,048 rows)
 * at a time: numeric columns are written straight into the chunk's vectors, so the only per-value
 * native calls left are the text columns — several times faster than the row-wise appender API.
 */
export class FlowAppender {
  private readonly chunk: DuckDBDataChunk
  constructor(private readonly appender: DuckDBAppender) {
    this.chunk = DuckDBDataChunk.create(FLOW_TYPES, CHUNK_ROWS)
  }

  append(batch: FlowBatch, network: string, sourceId: number): void {
    const chunk = this.chunk
    for (let start = 0; start < batch.length; start += CHUNK_ROWS) {
      const n = Math.min(CHUNK_ROWS, batch.length - start)
      chunk.reset()
      chunk.rowCount = n
      const v = (c: number): DuckDBVector => chunk.getColumnVector(c)
      const cols = FLOW_TYPES.map((_, c) => v(c))
      for (let j = 0; j < n; j++) {
        const i = start + j
        const family = batch.family[i] ?? 4
        cols[0]!.setItem(j, network)
        const exporter = batch.exporter[i]
        cols[1]!.setItem(j, exporter ? exporter : null)
        cols[2]!.setItem(j, new DuckDBTimestampValue(BigInt(Math.floor(batch.tsStart[i] ?? 0))))
        cols[3]!.setItem(j, new DuckDBTimestampValue(BigInt(Math.floor(batch.tsEnd[i] ?? 0))))
        cols[4]!.setItem(j, addrToString(batch.srcAddr, i, family))
        cols[5]!.setItem(j, addrToString(batch.dstAddr, i, family))
        cols[6]!.setItem(j, batch.srcPort[i] ?? 0)
        cols[7]!.setItem(j, batch.dstPort[i] ?? 0)
        cols[8]!.setItem(j, batch.proto[i] ?? 0)
        cols[9]!.setItem(j, batch.tcpFlags[i] ?? 0)
        cols[10]!.setItem(j, BigInt(batch.packets[i] ?? 0))
        cols[11]!.setItem(j, BigInt(batch.bytes[i] ?? 0))
        cols[12]!.setItem(j, batch.samplingRate[i] || 1)
        cols[13]!.setItem(j, sourceId)
        cols[14]!.setItem(j, family)
        cols[15]!.setItem(j, addrToBigInt(batch.srcAddr, i))
        cols[16]!.setItem(j, addrToBigInt(batch.dstAddr, i))
        // src_as, dst_as: filled by ASN enrichment
        cols[17]!.setItem(j, null)
        cols[18]!.setItem(j, null)
      }
      for (const c of cols) c.flush()
      this.appender.appendDataChunk(chunk)
    }
  }

  close(): void {
    this.appender.closeSync()
  }
}

const CHUNK_ROWS = 2048
const FLOW_TYPES = [
  VARCHAR, VARCHAR, TIMESTAMP, TIMESTAMP, VARCHAR, VARCHAR, USMALLINT, USMALLINT, UTINYINT, UTINYINT,
  UBIGINT, UBIGINT, UINTEGER, INTEGER, UTINYINT, UHUGEINT, UHUGEINT, UINTEGER, UINTEGER,
]

