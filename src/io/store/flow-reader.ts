/**
 * Stored flows back into FlowBatches (for simulations over flow records: binomial thinning, replays),
 * pulled a DuckDB chunk at a time so memory stays bounded.
 */
import type {FlowBatch} from '../../core/index.js'
import {createFlowBatch} from '../../core/index.js'
import type {FlowStore} from './store.js'

export interface FlowSelection {
  network?: string
  sourceId?: number
}

const SELECT = `SELECT epoch_us(ts_start)::DOUBLE AS s, epoch_us(ts_end)::DOUBLE AS e, family,
  (src_addr >> 96)::UBIGINT::DOUBLE AS s0, ((src_addr >> 64) & 4294967295)::UBIGINT::DOUBLE AS s1,
  ((src_addr >> 32) & 4294967295)::UBIGINT::DOUBLE AS s2, (src_addr & 4294967295)::UBIGINT::DOUBLE AS s3,
  (dst_addr >> 96)::UBIGINT::DOUBLE AS d0, ((dst_addr >> 64) & 4294967295)::UBIGINT::DOUBLE AS d1,
  ((dst_addr >> 32) & 4294967295)::UBIGINT::DOUBLE AS d2, (dst_addr & 4294967295)::UBIGINT::DOUBLE AS d3,
  src_port, dst_port, proto, tcp_flags, packets::DOUBLE AS packets, bytes::DOUBLE AS bytes, sampling_rate,
  coalesce(exporter, '') AS exporter
  FROM flows`

export async function* readFlowBatches(store: FlowStore, sel: FlowSelection = {}): AsyncGenerator<FlowBatch> {
  const where: string[] = []
  const params: Record<string, string | number> = {}
  if (sel.network !== undefined) {
    where.push('network = $network')
    params.network = sel.network
  }
  if (sel.sourceId !== undefined) {
    where.push('source_id = $sid')
    params.sid = sel.sourceId
  }
  const sql = `${SELECT}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY ts_start`
  const result = await store.connection.stream(sql, params)
  for await (const rows of result.yieldRows()) {
    const b = createFlowBatch(rows.length)
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i] as unknown as [number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, number, string]
      b.tsStart[i] = r[0]
      b.tsEnd[i] = r[1]
      b.family[i] = r[2]
      for (let w = 0; w < 4; w++) {
        b.srcAddr[i * 4 + w] = r[3 + w] as number
        b.dstAddr[i * 4 + w] = r[7 + w] as number
      }
      b.srcPort[i] = r[11]
      b.dstPort[i] = r[12]
      b.proto[i] = r[13]
      b.tcpFlags[i] = r[14]
      b.packets[i] = r[15]
      b.bytes[i] = r[16]
      b.samplingRate[i] = r[17]
      b.exporter[i] = r[18]
    }
    b.length = rows.length
    yield b
  }
}
