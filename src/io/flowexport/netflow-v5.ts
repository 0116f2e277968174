/**
 * NetFlow v5: a 24-byte header and up to 30 fixed 48-byte records (Cisco's "NetFlow Export Datagram
 * Format"). No templates; the sampling interval lives in the header. Some senders pack several v5
 * PDUs back to back in one datagram (nfcapd reads them so); each is decoded in turn.
 */
import {allZero, type DecodeEnv} from './env.js'

export const V5_HEADER = 24
export const V5_RECORD = 48
/** Cisco's limit; nfdump and others reject larger counts as corrupt */
export const V5_MAX_RECORDS = 30

/**
 * Byte length of the run of well-formed v5 PDUs at the start of `dv`, or a negative number when the
 * first PDU is not one. Stops at the first PDU that is not (the caller decides what the rest is).
 */
export function netflowV5Extent(dv: DataView, length: number): number {
  let pos = 0
  while (length - pos >= V5_HEADER && dv.getUint16(pos) === 5) {
    const count = dv.getUint16(pos + 2)
    const size = V5_HEADER + count * V5_RECORD
    if (count === 0 || count > V5_MAX_RECORDS || pos + size > length) break
    pos += size
  }
  return pos === 0 ? -1 : pos
}

export function decodeNetflowV5(env: DecodeEnv, bytes: Uint8Array, dv: DataView, exporter: string): void {
  const length = bytes.length
  let pos = 0
  while (pos < length) {
    if (length - pos < V5_HEADER) {
      if (pos === 0 || !allZero(bytes, pos, length)) {
        env.problem(exporter, pos, `NetFlow v5 header truncated: ${length - pos} of ${V5_HEADER} bytes`)
      }
      return
    }
    if (pos > 0 && dv.getUint16(pos) !== 5) {
      if (!allZero(bytes, pos, length)) env.problem(exporter, pos, `${length - pos} bytes after the last NetFlow v5 record`)
      return
    }
    const count = dv.getUint16(pos + 2)
    if (count === 0 || count > V5_MAX_RECORDS) {
      env.problem(exporter, pos + 2, `NetFlow v5 record count ${count} outside 1..${V5_MAX_RECORDS}`)
      return
    }
    const size = V5_HEADER + count * V5_RECORD
    if (pos + size > length) {
      // the header cannot be trusted: decode nothing rather than records of unknown framing
      env.problem(exporter, pos + 2, `NetFlow v5 record count ${count} needs ${size} bytes, ${length - pos} left`)
      return
    }
    decodePdu(env, dv, pos, count, exporter)
    pos += size
  }
}

function decodePdu(env: DecodeEnv, dv: DataView, base: number, count: number, exporter: string): void {
  const sysUptime = dv.getUint32(base + 4)
  const exportMillis = dv.getUint32(base + 8) * 1000 + Math.floor(dv.getUint32(base + 12) / 1e6)
  // sampling_interval: top 2 bits mode, low 14 bits interval
  const interval = dv.getUint16(base + 22) & 0x3fff
  const out = env.acc.out
  out.family = 4
  out.exporter = exporter
  out.samplingRate = interval > 0 ? interval : 1
  for (let i = 0; i < count; i++) {
    const r = base + V5_HEADER + i * V5_RECORD
    out.src[0] = dv.getUint32(r)
    out.dst[0] = dv.getUint32(r + 4)
    out.packets = dv.getUint32(r + 16)
    out.bytes = dv.getUint32(r + 20)
    // First/Last are sysUptime at the first/last packet; the signed 32-bit difference survives the
    // uptime counter wrapping
    out.tsStart = (exportMillis - ((sysUptime - dv.getUint32(r + 24)) | 0)) * 1000
    out.tsEnd = (exportMillis - ((sysUptime - dv.getUint32(r + 28)) | 0)) * 1000
    out.srcPort = dv.getUint16(r + 32)
    out.dstPort = dv.getUint16(r + 34)
    out.tcpFlags = dv.getUint8(r + 37)
    out.proto = dv.getUint8(r + 38)
    env.emit(out)
  }
}
