/**
 * Hand-made flow rows for the incident tests (evidence and rules): one call writes a list of flows
 * through the store's own appender, so the rows are what ingest would have stored.
 */
import {appendFlowRecord, createFlowBatch} from '../../src/core/flow-batch.js'
import type {FlowStore} from '../../src/io/store/store.js'

/** 2026-01-05T00:00:00Z, µs */
export const T0 = 1_767_571_200_000_000
export const SEC = 1e6
export const MIN = 60e6
/** one 5-minute model window */
export const WIN = 5 * MIN

export const TCP = 6
export const UDP = 17
export const ICMP = 1
export const FIN = 0x01
export const SYN = 0x02
export const RST = 0x04
export const PSH = 0x08
export const ACK = 0x10

/** One flow record as a test writes it; everything but the addresses has a default. */
export interface HandFlow {
  src: string
  dst: string
  sport?: number
  dport?: number
  /** default TCP */
  proto?: number
  /** default SYN for TCP, 0 otherwise */
  flags?: number
  /** default 1 */
  packets?: number
  /** default 60 per packet */
  bytes?: number
  /** sampling rate, default 1 */
  rate?: number
  /** start, µs (default T0 + 1 s) */
  at?: number
  /** default 'lab' */
  network?: string
}

export function ipv4(text: string): number {
  const p = text.split('.').map(Number)
  if (p.length !== 4 || p.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) throw new Error(`not an IPv4 address: ${text}`)
  return ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0
}

/** Writes the flows (grouped by network) with the store's flow appender. */
export async function addFlows(store: FlowStore, flows: readonly HandFlow[]): Promise<void> {
  const byNetwork = new Map<string, HandFlow[]>()
  for (const f of flows) {
    const n = f.network ?? 'lab'
    byNetwork.set(n, [...(byNetwork.get(n) ?? []), f])
  }
  for (const [network, list] of byNetwork) {
    const batch = createFlowBatch(list.length)
    for (const f of list) {
      const proto = f.proto ?? TCP
      const packets = f.packets ?? 1
      const start = f.at ?? T0 + SEC
      appendFlowRecord(batch, {
        tsStart: start,
        tsEnd: start + SEC,
        family: 4,
        src: [ipv4(f.src)],
        dst: [ipv4(f.dst)],
        srcPort: f.sport ?? (proto === TCP || proto === UDP ? 40_000 : 0),
        dstPort: f.dport ?? 0,
        proto,
        tcpFlags: f.flags ?? (proto === TCP ? SYN : 0),
        packets,
        bytes: f.bytes ?? 60 * packets,
        samplingRate: f.rate ?? 1,
      })
    }
    const appender = await store.createFlowAppender()
    try {
      appender.append(batch, network, 1)
    } finally {
      appender.close()
    }
  }
}

/** `n` copies of a flow, each with the index applied by `vary`. */
export function times(n: number, vary: (i: number) => HandFlow): HandFlow[] {
  return Array.from({length: n}, (_, i) => vary(i))
}
