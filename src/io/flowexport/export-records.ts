/**
 * Flow records out of a capture of export traffic: the UDP payloads that carry NetFlow v5/v9, IPFIX or
 * sFlow v5 are decoded as a collector would receive them (exporter = the datagram's source address,
 * receive time = the packet's capture time); every other packet is counted and left out.
 */
import type {FlowBatch, FlowRecordInput} from '../../core/index.js'
import {appendFlowRecord, createFlowBatch, flowBatchCapacity} from '../../core/index.js'
import {FlowExportDecoder} from './decoder.js'
import {looksLikeFlowExport} from './detect.js'
import type {FlowExportStats} from './types.js'
import {addrToString, IPPROTO_UDP} from '../../core/index.js'
import type {PacketBatch} from '../capture/index.js'
import {createDecodedPacket, decodePacket, DECODE_OK} from '../capture/index.js'

const BATCH = 16_384

/** UDP payload of a decoded packet, or undefined (not UDP, a later fragment, no room for a header). */
export function udpPayload(buf: Uint8Array, l4Offset: number, l4End: number): Uint8Array | undefined {
  if (l4Offset === 0 || l4End - l4Offset < 8) return undefined
  const udpLen = (buf[l4Offset + 4]! << 8) | buf[l4Offset + 5]!
  const end = udpLen >= 8 && l4Offset + udpLen < l4End ? l4Offset + udpLen : l4End
  return buf.subarray(l4Offset + 8, end)
}

export interface ExportRecordStats {
  packets: number
  exportDatagrams: number
  otherPackets: number
}

/**
 * Told of the records of one capture packet that no store may hold (core/flow-bounds.ts): where the
 * packet's record starts in the file, how many, and why the first was refused. It throws to stop the
 * ingest (a bad record) or counts them (`--skip-bad`).
 */
export type InvalidRecordsHandler = (fileOffset: number, count: number, detail: string) => void

/** Same shape as FlowAssembler (push / takeReady / flush) so ingest drives either. */
export class ExportRecordAssembler {
  readonly decoder = new FlowExportDecoder()
  readonly stats: ExportRecordStats = {packets: 0, exportDatagrams: 0, otherPackets: 0}
  private readonly pkt = createDecodedPacket()
  private readonly exporterWords = new Uint32Array(4)
  private current: FlowBatch = createFlowBatch(BATCH)
  private ready: FlowBatch[] = []
  private readonly sink = (r: FlowRecordInput): void => {
    if (this.current.length >= flowBatchCapacity(this.current)) {
      this.ready.push(this.current)
      this.current = createFlowBatch(BATCH)
    }
    appendFlowRecord(this.current, r)
  }

  constructor(private readonly onInvalid?: InvalidRecordsHandler) {}

  push(batch: PacketBatch): void {
    const p = this.pkt
    for (let i = 0; i < batch.count; i++) {
      this.stats.packets++
      const code = decodePacket(batch.buf, batch.offset[i]!, batch.caplen[i]!, batch.origLen[i]!, batch.linktype[i]!, p)
      const payload = code === DECODE_OK && p.proto === IPPROTO_UDP && p.fragment === 0 ? udpPayload(batch.buf, p.l4Offset, p.l4End) : undefined
      if (!payload || looksLikeFlowExport(payload) === undefined) {
        this.stats.otherPackets++
        continue
      }
      this.exporterWords.set(p.src)
      this.stats.exportDatagrams++
      const res = this.decoder.decodeDatagram(payload, addrToString(this.exporterWords, 0, p.family), batch.tsMicros[i]!, this.sink)
      if (res.invalidRecords > 0) this.onInvalid?.(batch.fileOffset[i]!, res.invalidRecords, res.invalidDetail ?? '')
    }
  }

  takeReady(): FlowBatch[] {
    const out = this.ready
    this.ready = []
    return out
  }

  flush(): FlowBatch[] {
    this.decoder.finish()
    if (this.current.length > 0) this.ready.push(this.current)
    this.current = createFlowBatch(BATCH)
    return this.takeReady()
  }

  get exportStats(): FlowExportStats {
    return this.decoder.stats
  }
}

/**
 * Whether a capture is export traffic: among the first packets, export datagrams are at least half of
 * the UDP packets. Decided by content, not by port.
 */
export function looksLikeExportCapture(batch: PacketBatch, limit = 2000): boolean {
  const p = createDecodedPacket()
  let udp = 0
  let exports = 0
  const n = Math.min(batch.count, limit)
  for (let i = 0; i < n; i++) {
    if (decodePacket(batch.buf, batch.offset[i]!, batch.caplen[i]!, batch.origLen[i]!, batch.linktype[i]!, p) !== DECODE_OK) continue
    if (p.proto !== IPPROTO_UDP || p.fragment !== 0) continue
    udp++
    const payload = udpPayload(batch.buf, p.l4Offset, p.l4End)
    if (payload && looksLikeFlowExport(payload) !== undefined) exports++
  }
  return exports > 0 && exports * 2 >= udp
}
