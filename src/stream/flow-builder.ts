/**
 * A growable FlowBatch: decoded stream records and window contents are appended row by row without
 * knowing the count up front. Columns double in size when full; `view()` hands out a FlowBatch over
 * the filled rows without copying.
 */
import {ADDR_WORDS, copyFlowRow, createFlowBatch, flowBatchCapacity, type FlowBatch} from '../core/index.js'

export class FlowBatchBuilder {
  private b: FlowBatch
  /** network (tenant) of each row */
  network: string[] = []

  constructor(capacity = 256) {
    this.b = createFlowBatch(Math.max(1, capacity))
  }

  get length(): number {
    return this.b.length
  }

  /** the FlowBatch being filled (columns may be longer than `length`) */
  get batch(): FlowBatch {
    return this.b
  }

  clear(): void {
    this.b.length = 0
    this.network.length = 0
  }

  /** Room for `extra` more rows. */
  reserve(extra: number): void {
    const need = this.b.length + extra
    const cap = flowBatchCapacity(this.b)
    if (need <= cap) return
    let next = cap * 2
    while (next < need) next *= 2
    const old = this.b
    const b = createFlowBatch(next)
    const n = old.length
    b.tsStart.set(old.tsStart.subarray(0, n))
    b.tsEnd.set(old.tsEnd.subarray(0, n))
    b.family.set(old.family.subarray(0, n))
    b.srcAddr.set(old.srcAddr.subarray(0, n * ADDR_WORDS))
    b.dstAddr.set(old.dstAddr.subarray(0, n * ADDR_WORDS))
    b.srcPort.set(old.srcPort.subarray(0, n))
    b.dstPort.set(old.dstPort.subarray(0, n))
    b.proto.set(old.proto.subarray(0, n))
    b.tcpFlags.set(old.tcpFlags.subarray(0, n))
    b.packets.set(old.packets.subarray(0, n))
    b.bytes.set(old.bytes.subarray(0, n))
    b.samplingRate.set(old.samplingRate.subarray(0, n))
    for (let i = 0; i < n; i++) b.exporter[i] = old.exporter[i] ?? ''
    b.length = n
    this.b = b
  }

  /** Copy row `i` of `src` (tagged with `network`). */
  appendRow(src: FlowBatch, i: number, network: string): void {
    this.reserve(1)
    const b = this.b
    const j = b.length
    copyFlowRow(src, i, b, j)
    this.network[j] = network
    b.length = j + 1
  }

  /** A FlowBatch over the filled rows (shares memory with the builder: clear or drop the builder after). */
  view(): FlowBatch {
    const b = this.b
    const n = b.length
    return {
      length: n,
      tsStart: b.tsStart.subarray(0, n),
      tsEnd: b.tsEnd.subarray(0, n),
      family: b.family.subarray(0, n),
      srcAddr: b.srcAddr.subarray(0, n * ADDR_WORDS),
      dstAddr: b.dstAddr.subarray(0, n * ADDR_WORDS),
      srcPort: b.srcPort.subarray(0, n),
      dstPort: b.dstPort.subarray(0, n),
      proto: b.proto.subarray(0, n),
      tcpFlags: b.tcpFlags.subarray(0, n),
      packets: b.packets.subarray(0, n),
      bytes: b.bytes.subarray(0, n),
      samplingRate: b.samplingRate.subarray(0, n),
      exporter: b.exporter.slice(0, n),
    }
  }
}
