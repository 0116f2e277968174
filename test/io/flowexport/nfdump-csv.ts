/**
 * Test helper: nfdump's `-o csv` output (nfdump 1.7) as ground truth for flow-export decoding, and the
 * same projection of our own records, so the two can be compared as multisets.
 */
import {readFileSync} from 'node:fs'
import type {FlowRecordInput} from '../../../src/core/flow-batch.js'
import {ipv4ToString, ipv6ToString} from '../../../src/core/ip.js'

export interface NfdumpRecord {
  /** first seen, seconds since the epoch (nfdump prints whole seconds, UTC) */
  ts: number
  te: number
  sa: string
  da: string
  sp: number
  dp: number
  pr: number
  flg: string
  ipkt: number
  ibyt: number
  /** exporter address nfcapd saw */
  ra: string
}

const PROTO_NAMES: Record<string, number> = {ICMP: 1, IGMP: 2, TCP: 6, UDP: 17, GRE: 47, ESP: 50, AH: 51, ICMP6: 58, VRRP: 112}

export function readNfdumpCsv(path: string): NfdumpRecord[] {
  const lines = readFileSync(path, 'utf8').split('\n')
  const header = (lines[0] ?? '').split(',')
  const col = (name: string): number => {
    const i = header.indexOf(name)
    if (i < 0) throw new Error(`${path}: no column ${name}`)
    return i
  }
  const c = {
    ts: col('ts'),
    te: col('te'),
    sa: col('sa'),
    da: col('da'),
    sp: col('sp'),
    dp: col('dp'),
    pr: col('pr'),
    flg: col('flg'),
    ipkt: col('ipkt'),
    ibyt: col('ibyt'),
    ra: col('ra'),
  }
  const out: NfdumpRecord[] = []
  for (const line of lines.slice(1)) {
    const f = line.split(',')
    if (f.length < header.length) continue // blank lines and the summary block
    const pr = f[c.pr]!.trim()
    out.push({
      ts: Date.parse(`${f[c.ts]!.replace(' ', 'T')}Z`) / 1000,
      te: Date.parse(`${f[c.te]!.replace(' ', 'T')}Z`) / 1000,
      sa: f[c.sa]!,
      da: f[c.da]!,
      sp: Number(f[c.sp]),
      dp: Number(f[c.dp]),
      pr: PROTO_NAMES[pr] ?? Number(pr),
      flg: f[c.flg]!,
      ipkt: Number(f[c.ipkt]),
      ibyt: Number(f[c.ibyt]),
      ra: f[c.ra]!,
    })
  }
  return out
}

/** nfdump's `-I` totals. */
export function readNfdumpInfo(path: string): Record<string, number> {
  const out: Record<string, number> = {}
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m = /^(\w+): (\d+)$/.exec(line.trim())
    if (m) out[m[1]!] = Number(m[2])
  }
  return out
}

/** A copy of a sink record (the decoder reuses its record object). */
export interface KeptRecord {
  tsStart: number
  tsEnd: number
  family: 4 | 6
  src: string
  dst: string
  srcPort: number
  dstPort: number
  proto: number
  tcpFlags: number
  packets: number
  bytes: number
  samplingRate: number
  exporter: string
}

export function keep(r: FlowRecordInput): KeptRecord {
  const addr = (w: ArrayLike<number>): string =>
    r.family === 4 ? ipv4ToString(w[0] ?? 0) : ipv6ToString(w[0] ?? 0, w[1] ?? 0, w[2] ?? 0, w[3] ?? 0)
  return {
    tsStart: r.tsStart,
    tsEnd: r.tsEnd,
    family: r.family,
    src: addr(r.src),
    dst: addr(r.dst),
    srcPort: r.srcPort,
    dstPort: r.dstPort,
    proto: r.proto,
    tcpFlags: r.tcpFlags,
    packets: r.packets,
    bytes: r.bytes,
    samplingRate: r.samplingRate ?? 1,
    exporter: r.exporter ?? '',
  }
}

/** (src, dst, sport, dport, proto, packets, bytes) as one string: the multiset comparison key. */
export function tupleKey(sa: string, da: string, sp: number, dp: number, pr: number, pkts: number, bytes: number): string {
  return `${sa}|${da}|${sp}|${dp}|${pr}|${pkts}|${bytes}`
}

export function ourKey(r: KeptRecord, scale = 1): string {
  return tupleKey(r.src, r.dst, r.srcPort, r.dstPort, r.proto, r.packets * scale, r.bytes * scale)
}

export function nfdumpKey(r: NfdumpRecord): string {
  return tupleKey(r.sa, r.da, r.sp, r.dp, r.pr, r.ipkt, r.ibyt)
}

/** Keys in `a` not matched by `b` (multiset difference). */
export function multisetMinus(a: string[], b: string[]): string[] {
  const counts = new Map<string, number>()
  for (const k of b) counts.set(k, (counts.get(k) ?? 0) + 1)
  const out: string[] = []
  for (const k of a) {
    const n = counts.get(k) ?? 0
    if (n > 0) counts.set(k, n - 1)
    else out.push(k)
  }
  return out
}
