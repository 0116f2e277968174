import type {FlowRecordInput} from '../../core/index.js'
import type {RecordAccumulator} from './record.js'
import type {FlowExportStats} from './types.js'

/** What a protocol decoder needs from the FlowExportDecoder that owns it. */
export interface DecodeEnv {
  readonly stats: FlowExportStats
  readonly acc: RecordAccumulator
  /** count a malformed structure and keep it in the problem list */
  problem(exporter: string, offset: number, detail: string): void
  /** hand one flow record to the current sink */
  emit(record: FlowRecordInput): void
}

/** Unsigned big-endian integer of 1–8 bytes (reduced-size encoding); exact up to 2^53. */
export function readUint(dv: DataView, offset: number, length: number): number {
  switch (length) {
    case 1:
      return dv.getUint8(offset)
    case 2:
      return dv.getUint16(offset)
    case 4:
      return dv.getUint32(offset)
    case 8:
      return dv.getUint32(offset) * 4_294_967_296 + dv.getUint32(offset + 4)
    default: {
      let v = 0
      for (let i = 0; i < length; i++) v = v * 256 + dv.getUint8(offset + i)
      return v
    }
  }
}

/** True when bytes [from, to) are all zero: exporters zero-fill datagrams past their last set. */
export function allZero(bytes: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (bytes[i] !== 0) return false
  return true
}
