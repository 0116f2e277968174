import {describe, expect, it} from 'vitest'
import {FlowExportDecoder} from '../../../src/io/flowexport/index.js'
import {ByteWriter, concat} from './build.js'
import {keep, type KeptRecord} from './nfdump-csv.js'

interface V5Rec {
  src: string
  dst: string
  first: number
  last: number
}

function v5(sysUptime: number, secs: number, nsecs: number, sampling: number, recs: V5Rec[]): Uint8Array {
  const w = new ByteWriter().u16(5).u16(recs.length).u32(sysUptime).u32(secs).u32(nsecs).u32(0).u8(0).u8(0).u16(sampling)
  for (const r of recs) {
    w.ipv4(r.src).ipv4(r.dst).u32(0).u16(1).u16(2).u32(3).u32(180).u32(r.first).u32(r.last)
    w.u16(1234).u16(80).u8(0).u8(0x1b).u8(6).u8(0).u16(0).u16(0).u8(24).u8(24).u16(0)
  }
  return w.build()
}

function decode(payload: Uint8Array): {recs: KeptRecord[]; dec: FlowExportDecoder} {
  const dec = new FlowExportDecoder()
  const recs: KeptRecord[] = []
  dec.decodeDatagram(payload, '10.1.1.1', 0, (r) => recs.push(keep(r)))
  return {recs, dec}
}

describe('NetFlow v5', () => {
  const T = 1_680_000_000

  it('decodes records, turning First/Last (sysUptime ms) into absolute µs with unix_secs/nsecs', () => {
    const {recs} = decode(v5(100_000, T, 250_000_000, 0, [{src: '10.0.0.1', dst: '10.0.0.2', first: 90_000, last: 99_500}]))
    expect(recs).toEqual([
      {
        tsStart: (T * 1000 + 250 - 10_000) * 1000,
        tsEnd: (T * 1000 + 250 - 500) * 1000,
        family: 4,
        src: '10.0.0.1',
        dst: '10.0.0.2',
        srcPort: 1234,
        dstPort: 80,
        proto: 6,
        tcpFlags: 0x1b,
        packets: 3,
        bytes: 180,
        samplingRate: 1,
        exporter: '10.1.1.1',
      },
    ])
  })

  it('survives the 32-bit uptime wrapping between First and export', () => {
    const {recs} = decode(v5(1_000, T, 0, 0, [{src: '10.0.0.1', dst: '10.0.0.2', first: 2 ** 32 - 2_000, last: 500}]))
    expect(recs[0]).toMatchObject({tsStart: (T * 1000 - 3_000) * 1000, tsEnd: (T * 1000 - 500) * 1000})
  })

  it('reads the sampling interval from the low 14 bits, whatever the mode bits', () => {
    const rec = [{src: '10.0.0.1', dst: '10.0.0.2', first: 0, last: 0}]
    expect(decode(v5(0, T, 0, 0x4000 | 1000, rec)).recs[0]!.samplingRate).toBe(1000)
    expect(decode(v5(0, T, 0, 64, rec)).recs[0]!.samplingRate).toBe(64)
    expect(decode(v5(0, T, 0, 0x8000, rec)).recs[0]!.samplingRate).toBe(1)
  })

  it('decodes PDUs packed back to back in one datagram; trailing garbage is a problem', () => {
    const a = v5(0, T, 0, 0, [{src: '10.0.0.1', dst: '10.0.0.2', first: 0, last: 0}])
    const b = v5(0, T, 0, 0, [
      {src: '10.0.0.3', dst: '10.0.0.4', first: 0, last: 0},
      {src: '10.0.0.5', dst: '10.0.0.6', first: 0, last: 0},
    ])
    expect(decode(concat(a, b)).recs.map((r) => r.src)).toEqual(['10.0.0.1', '10.0.0.3', '10.0.0.5'])
    expect(decode(concat(a, new Uint8Array(10))).dec.stats.malformed).toBe(0) // zero padding
    const junk = decode(concat(a, new Uint8Array([1, 2, 3, 4])))
    expect(junk.recs).toHaveLength(1)
    expect(junk.dec.stats.problems).toEqual([{exporter: '10.1.1.1', offset: 72, detail: 'NetFlow v5 header truncated: 4 of 24 bytes'}])
  })
})
