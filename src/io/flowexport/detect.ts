/**
 * Recognising flow-export datagrams by content, not by port: exporters use 2055, 2057, 4739, 6343,
 * 9991, 9995 and many others. Checks the version field and that the first structure's lengths are
 * consistent, so ordinary UDP traffic (DNS, QUIC, …) is not mistaken for exports.
 */
import {netflowV5Extent, V5_RECORD} from './netflow-v5.js'
import type {FlowExportProtocol} from './types.js'

export function looksLikeFlowExport(payload: Uint8Array): FlowExportProtocol | undefined {
  const len = payload.length
  if (len < 20) return undefined
  const dv = new DataView(payload.buffer, payload.byteOffset, payload.byteLength)
  const version = dv.getUint16(0)
  if (version === 5) {
    // one or more whole PDUs, then at most a record's worth of padding
    const extent = netflowV5Extent(dv, len)
    return extent > 0 && len - extent < V5_RECORD ? 'netflow5' : undefined
  }
  if (version === 9) {
    if (len < 24) return undefined
    return firstSetFits(dv, 20, len, 0, 1) ? 'netflow9' : undefined
  }
  if (version === 10) {
    const msgLen = dv.getUint16(2)
    if (msgLen < 20 || msgLen > len) return undefined
    return firstSetFits(dv, 16, msgLen, 2, 3) ? 'ipfix' : undefined
  }
  if (version === 0 && dv.getUint16(2) === 5) return looksLikeSflow(dv, len) ? 'sflow5' : undefined
  return undefined
}

function firstSetFits(dv: DataView, pos: number, end: number, templateSet: number, optionsSet: number): boolean {
  const id = dv.getUint16(pos)
  const setLen = dv.getUint16(pos + 2)
  return (id === templateSet || id === optionsSet || id >= 256) && setLen >= 4 && pos + setLen <= end
}

function looksLikeSflow(dv: DataView, len: number): boolean {
  const addrType = dv.getUint32(4)
  if (addrType !== 1 && addrType !== 2) return false
  const header = 8 + (addrType === 1 ? 4 : 16) + 16
  if (len < header) return false
  const numSamples = dv.getUint32(header - 4)
  if (numSamples > (len - header) / 8) return false
  if (numSamples === 0) return len === header
  if (len < header + 8) return false
  const format = dv.getUint32(header)
  const sampleLen = dv.getUint32(header + 4)
  const standard = format >>> 12 === 0 && (format & 0xfff) >= 1 && (format & 0xfff) <= 4
  return (standard || format >>> 12 !== 0) && sampleLen <= len - header - 8
}
