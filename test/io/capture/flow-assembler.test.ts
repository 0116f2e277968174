import {describe, expect, it} from 'vitest'
import {FlowAssembler, type FlowAssemblerOptions} from '../../../src/io/capture/flow-assembler.js'
import type {FlowBatch} from '../../../src/core/flow-batch.js'
import {addrToString} from '../../../src/core/ip.js'
import {createRng, type Rng} from '../../../src/core/rng.js'
import {
  ACK,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ethernet,
  FIN,
  icmp,
  ipv4,
  ipv6,
  packetBatch,
  PSH,
  RST,
  SYN,
  tcp,
  udp,
  type TestPacket,
} from '../../helpers/capture-bytes.js'

const S = 1e6 // µs per second
const T0 = 1_700_000_000 * S

interface Flow {
  src: string
  dst: string
  srcPort: number
  dstPort: number
  proto: number
  family: number
  tsStart: number
  tsEnd: number
  packets: number
  bytes: number
  tcpFlags: number
}

function rows(batches: FlowBatch[]): Flow[] {
  const out: Flow[] = []
  let notCapture = 0
  for (const b of batches) {
    for (let i = 0; i < b.length; i++) {
      if (b.exporter[i] !== '' || b.samplingRate[i] !== 1) notCapture++
      out.push({
        src: addrToString(b.srcAddr, i, b.family[i]!),
        dst: addrToString(b.dstAddr, i, b.family[i]!),
        srcPort: b.srcPort[i]!,
        dstPort: b.dstPort[i]!,
        proto: b.proto[i]!,
        family: b.family[i]!,
        tsStart: b.tsStart[i]!,
        tsEnd: b.tsEnd[i]!,
        packets: b.packets[i]!,
        bytes: b.bytes[i]!,
        tcpFlags: b.tcpFlags[i]!,
      })
    }
  }
  // capture flows: no exporter, unsampled
  expect(notCapture).toBe(0)
  return out
}

function run(packets: TestPacket[], opts: FlowAssemblerOptions = {}): {flows: Flow[]; asm: FlowAssembler} {
  const asm = new FlowAssembler(opts)
  asm.push(packetBatch(packets))
  const flows = rows([...asm.takeReady(), ...asm.flush()])
  return {flows, asm}
}

const tcpPkt = (ts: number, flags: number, payload = 0, sport = 40000, dport = 443, src = '10.0.0.1', dst = '10.0.0.2'): TestPacket => ({
  ts,
  frame: ethernet(ipv4({src, dst, proto: 6, payload: tcp(sport, dport, flags, new Uint8Array(payload))}), ETHERTYPE_IPV4),
})

const udpPkt = (ts: number, sport = 5000, dport = 53, payload = 10): TestPacket => ({
  ts,
  frame: ethernet(ipv4({src: '10.0.0.1', dst: '8.8.8.8', proto: 17, payload: udp(sport, dport, new Uint8Array(payload))}), ETHERTYPE_IPV4),
})

describe('FlowAssembler: metering', () => {
  it('aggregates packets, IP bytes, flags and first/last seen per unidirectional 5-tuple', () => {
    const {flows, asm} = run([
      tcpPkt(T0, SYN),
      tcpPkt(T0 + 1000, SYN | ACK, 0, 443, 40000, '10.0.0.2', '10.0.0.1'),
      tcpPkt(T0 + 2000, ACK, 100),
      tcpPkt(T0 + 3000, PSH | ACK, 200),
    ])
    expect(flows).toHaveLength(2)
    const fwd = flows.find((f) => f.src === '10.0.0.1')!
    expect(fwd).toEqual({
      src: '10.0.0.1',
      dst: '10.0.0.2',
      srcPort: 40000,
      dstPort: 443,
      proto: 6,
      family: 4,
      tsStart: T0,
      tsEnd: T0 + 3000,
      packets: 3,
      bytes: 40 + 140 + 240,
      tcpFlags: SYN | ACK | PSH,
    })
    const rev = flows.find((f) => f.src === '10.0.0.2')!
    expect([rev.srcPort, rev.dstPort, rev.packets, rev.tcpFlags]).toEqual([443, 40000, 1, SYN | ACK])
    expect(asm.stats).toMatchObject({packets: 4, flowsEmitted: 2, activeFlows: 0})
  })

  it('keys ICMP by type/code and IPv6 separately from IPv4', () => {
    const {flows} = run([
      {ts: T0, frame: ipv4({src: '1.1.1.1', dst: '2.2.2.2', proto: 1, payload: icmp(8, 0)}), linktype: 101},
      {ts: T0 + 1, frame: ipv4({src: '1.1.1.1', dst: '2.2.2.2', proto: 1, payload: icmp(8, 0)}), linktype: 101},
      {ts: T0 + 2, frame: ipv4({src: '1.1.1.1', dst: '2.2.2.2', proto: 1, payload: icmp(3, 1)}), linktype: 101},
      {ts: T0 + 3, frame: ipv6({src: '::ffff:101:101', dst: '::ffff:202:202', proto: 58, payload: icmp(8, 0)}), linktype: 101},
    ])
    expect(flows.map((f) => [f.family, f.proto, f.dstPort, f.packets])).toEqual([
      [4, 1, 0x0800, 2],
      [4, 1, 0x0301, 1],
      [6, 58, 0x0800, 1],
    ])
  })

  it('counts non-IP and undecodable packets outside flows', () => {
    const {flows, asm} = run([
      {ts: T0, frame: ethernet(new Uint8Array(28), ETHERTYPE_ARP)},
      {ts: T0, frame: ethernet(new Uint8Array(10), ETHERTYPE_IPV4)},
      {ts: T0, frame: ethernet(ipv4({src: '1.1.1.1', dst: '2.2.2.2', proto: 6, payload: new Uint8Array(20), ihl: 3}), ETHERTYPE_IPV4)},
      udpPkt(T0),
    ])
    expect(flows).toHaveLength(1)
    expect(asm.stats).toMatchObject({packets: 4, nonIp: 1, undecodable: 2, flowsEmitted: 1})
  })
})

describe('FlowAssembler: flow end', () => {
  it('splits on the idle timeout (a gap of more than the timeout)', () => {
    const {flows} = run([udpPkt(T0), udpPkt(T0 + 15 * S), udpPkt(T0 + 30 * S + 1), udpPkt(T0 + 31 * S)])
    expect(flows.map((f) => [f.tsStart - T0, f.tsEnd - T0, f.packets])).toEqual([
      [0, 15 * S, 2],
      [30 * S + 1, 31 * S, 2],
    ])
  })

  it('expires idle flows on packet time, before the end of input', () => {
    const asm = new FlowAssembler({batchSize: 2})
    asm.push(packetBatch([udpPkt(T0, 1), udpPkt(T0, 2), udpPkt(T0, 3)]))
    expect(asm.takeReady()).toEqual([])
    // another flow 16 s later: the sweep closes the three idle ones
    asm.push(packetBatch([udpPkt(T0 + 16 * S, 4)]))
    expect(asm.stats.activeFlows).toBe(1)
    const ready = asm.takeReady()
    expect(ready.map((b) => b.length)).toEqual([2])
    expect(rows(asm.takeReady(true)).map((f) => f.srcPort)).toEqual([3])
    expect(rows(asm.flush()).map((f) => f.srcPort)).toEqual([4])
  })

  it('honours a custom idle timeout', () => {
    const {flows} = run([udpPkt(T0), udpPkt(T0 + 2 * S)], {idleTimeoutMicros: 1 * S})
    expect(flows).toHaveLength(2)
  })

  it('splits on the active timeout; the crossing packet starts the next record', () => {
    const pk: TestPacket[] = []
    for (let t = 0; t <= 4000; t += 10) pk.push(udpPkt(T0 + t * S))
    const {flows} = run(pk)
    expect(flows.map((f) => [(f.tsStart - T0) / S, (f.tsEnd - T0) / S, f.packets])).toEqual([
      [0, 1790, 180],
      [1800, 3590, 180],
      [3600, 4000, 41],
    ])
  })

  it('ends a TCP flow after a FIN or RST packet; the next packet starts a new flow', () => {
    const {flows} = run([
      tcpPkt(T0, SYN),
      tcpPkt(T0 + 1, ACK),
      tcpPkt(T0 + 2, FIN | ACK),
      tcpPkt(T0 + 3, ACK),
      tcpPkt(T0 + 4, RST),
      tcpPkt(T0 + 5, SYN),
    ])
    expect(flows.map((f) => [f.tsStart - T0, f.packets, f.tcpFlags])).toEqual([
      [0, 3, SYN | ACK | FIN],
      [3, 2, ACK | RST],
      [5, 1, SYN],
    ])
  })

  it('tolerates packets out of time order: first/last seen widen, nothing is lost', () => {
    const {flows, asm} = run([udpPkt(T0 + 10 * S), udpPkt(T0 + 5 * S), udpPkt(T0 + 20 * S), udpPkt(T0 + 12 * S), udpPkt(T0 + 1 * S)])
    expect(flows).toHaveLength(1)
    expect(flows[0]).toMatchObject({tsStart: T0 + 1 * S, tsEnd: T0 + 20 * S, packets: 5})
    expect(asm.stats.flowsEmitted).toBe(1)
  })

  it('fills batches of batchSize and hands them over with takeReady', () => {
    const pk: TestPacket[] = []
    for (let i = 0; i < 25; i++) pk.push(tcpPkt(T0 + i, RST, 0, 1000 + i))
    const asm = new FlowAssembler({batchSize: 10})
    asm.push(packetBatch(pk))
    const ready = asm.takeReady()
    expect(ready.map((b) => b.length)).toEqual([10, 10])
    expect(asm.takeReady()).toEqual([])
    const rest = asm.flush()
    expect(rest.map((b) => b.length)).toEqual([5])
    expect(rows([...ready, ...rest]).map((f) => f.srcPort)).toEqual(pk.map((_, i) => 1000 + i))
  })
})

describe('FlowAssembler: fragments', () => {
  const frag = (ts: number, opts: {mf: boolean; off: number; id: number; first?: boolean}): TestPacket => ({
    ts,
    linktype: 101,
    frame: ipv4({
      src: '10.1.1.1',
      dst: '10.2.2.2',
      proto: 17,
      id: opts.id,
      mf: opts.mf,
      fragOffset: opts.off,
      payload: opts.first === true ? udp(4500, 4501, new Uint8Array(1472)) : new Uint8Array(1000),
    }),
  })

  it('counts later fragments in the flow of their first fragment', () => {
    const {flows, asm} = run([
      frag(T0, {mf: true, off: 0, id: 9, first: true}),
      frag(T0 + 1, {mf: true, off: 185, id: 9}),
      frag(T0 + 2, {mf: false, off: 310, id: 9}),
    ])
    expect(flows).toHaveLength(1)
    expect(flows[0]).toMatchObject({srcPort: 4500, dstPort: 4501, packets: 3, bytes: 1500 + 1020 + 1020})
    expect(asm.stats.fragments).toBe(3)
  })

  it('meters fragments whose first fragment is unknown (or expired) in a port-0 flow', () => {
    const {flows} = run([
      frag(T0, {mf: true, off: 50, id: 1}), // before its first fragment
      frag(T0 + 1, {mf: true, off: 0, id: 1, first: true}),
      frag(T0 + 2, {mf: true, off: 0, id: 2, first: true}),
      frag(T0 + 40 * S, {mf: false, off: 185, id: 2}), // after the 30 s memory
    ])
    const byPorts = flows.map((f) => [f.srcPort, f.dstPort, f.packets])
    expect(byPorts).toContainEqual([0, 0, 1])
    expect(byPorts).toContainEqual([4500, 4501, 2])
    expect(flows.filter((f) => f.srcPort === 0).reduce((s, f) => s + f.packets, 0)).toBe(2)
  })

  it('keeps IPv6 fragments apart by fragment id', () => {
    const v6frag = (ts: number, id: number, off: number, first: boolean, sport: number): TestPacket => ({
      ts,
      linktype: 101,
      frame: ipv6({
        src: '2001:db8::1',
        dst: '2001:db8::2',
        proto: 17,
        payload: first ? udp(sport, 53, new Uint8Array(100)) : new Uint8Array(64),
        ext: [{type: 44, id, fragOffset: off, mf: first}],
      }),
    })
    const {flows} = run([v6frag(T0, 1, 0, true, 1111), v6frag(T0 + 1, 2, 0, true, 2222), v6frag(T0 + 2, 2, 20, false, 0), v6frag(T0 + 3, 1, 20, false, 0)])
    expect(flows.map((f) => [f.srcPort, f.packets]).sort((a, b) => a[0]! - b[0]!)).toEqual([
      [1111, 2],
      [2222, 2],
    ])
  })

  it('bounds the first-fragment memory', () => {
    const pk: TestPacket[] = []
    for (let id = 0; id < 20; id++) pk.push(frag(T0 + id, {mf: true, off: 0, id, first: true}))
    pk.push(frag(T0 + 100, {mf: false, off: 185, id: 0})) // evicted: only the last 8 are remembered
    pk.push(frag(T0 + 101, {mf: false, off: 185, id: 19}))
    const {flows} = run(pk, {maxFragments: 8})
    expect(flows.find((f) => f.srcPort === 0)?.packets).toBe(1)
    expect(flows.find((f) => f.srcPort === 4500)?.packets).toBe(21)
  })
})

// ------------------------------------------------------------------------------- reference comparison

interface RefPacket {
  ts: number
  v6: boolean
  src: number
  dst: number
  proto: number
  sport: number
  dport: number
  flags: number
  len: number
}

function refFrame(p: RefPacket): Uint8Array {
  const s = p.v6 ? `2001:db8::${p.src.toString(16)}` : `10.0.${p.src >> 8}.${p.src & 255}`
  const d = p.v6 ? `2001:db8::${p.dst.toString(16)}` : `10.1.${p.dst >> 8}.${p.dst & 255}`
  const l4 = p.proto === 6 ? tcp(p.sport, p.dport, p.flags, new Uint8Array(p.len)) : udp(p.sport, p.dport, new Uint8Array(p.len))
  return p.v6 ? ipv6({src: s, dst: d, proto: p.proto, payload: l4}) : ipv4({src: s, dst: d, proto: p.proto, payload: l4})
}

/** The same exporter rules with a Map of string keys and a full scan per sweep: slow but obviously right. */
function referenceFlows(packets: RefPacket[], idle: number, active: number, sweepEvery: number): string[] {
  interface F {
    key: string
    start: number
    end: number
    touch: number
    packets: number
    bytes: number
    flags: number
  }
  const table = new Map<string, F>()
  const out: string[] = []
  const emit = (f: F): void => {
    out.push(`${f.key}|${f.start}|${f.end}|${f.packets}|${f.bytes}|${f.flags}`)
    table.delete(f.key)
  }
  let clock = -Infinity
  let lastSweep = -Infinity
  for (const p of packets) {
    if (p.ts > clock) {
      clock = p.ts
      if (clock - lastSweep >= sweepEvery) {
        lastSweep = clock
        for (const f of [...table.values()]) if (f.touch < clock - idle) emit(f)
      }
    }
    const key = `${p.v6 ? 6 : 4}|${p.src}|${p.dst}|${p.proto}|${p.sport}|${p.dport}`
    let f = table.get(key)
    if (f && (p.ts - f.end > idle || p.ts - f.start >= active)) {
      emit(f)
      f = undefined
    }
    if (!f) {
      f = {key, start: p.ts, end: p.ts, touch: clock, packets: 0, bytes: 0, flags: 0}
      table.set(key, f)
    }
    f.start = Math.min(f.start, p.ts)
    f.end = Math.max(f.end, p.ts)
    f.touch = clock
    f.packets++
    f.bytes += p.len + (p.proto === 6 ? 20 : 8) + (p.v6 ? 40 : 20)
    if (p.proto === 6) f.flags |= p.flags
    if (p.proto === 6 && (p.flags & (FIN | RST)) !== 0) emit(f)
  }
  for (const f of [...table.values()]) emit(f)
  return out.sort()
}

function flowKeyOf(f: Flow): string {
  const num = (a: string): number => (f.family === 6 ? parseInt(a.split('::')[1]!, 16) : Number(a.split('.')[2]) * 256 + Number(a.split('.')[3]))
  return `${f.family}|${num(f.src)}|${num(f.dst)}|${f.proto}|${f.srcPort}|${f.dstPort}|${f.tsStart}|${f.tsEnd}|${f.packets}|${f.bytes}|${f.tcpFlags}`
}

function randomTraffic(rng: Rng, n: number, tuples: number): RefPacket[] {
  const pool: Omit<RefPacket, 'ts' | 'flags' | 'len'>[] = []
  for (let i = 0; i < tuples; i++) {
    pool.push({
      v6: rng.int(5) === 0,
      src: 1 + rng.int(4000),
      dst: 1 + rng.int(64),
      proto: rng.int(3) === 0 ? 17 : 6,
      sport: 1024 + rng.int(60000),
      dport: [53, 80, 443, 8080][rng.int(4)]!,
    })
  }
  const out: RefPacket[] = []
  let t = T0
  for (let i = 0; i < n; i++) {
    // mostly small steps, sometimes a long silence, sometimes a packet from the past
    const r = rng.next()
    if (r < 0.001) t += 20 * S + rng.int(10 * S)
    else t += rng.int(5000)
    const ts = rng.int(50) === 0 ? t - rng.int(3 * S) : t
    const base = pool[Math.floor(Math.pow(rng.next(), 2) * tuples)]!
    const fr = rng.int(100)
    const flags = fr === 0 ? FIN | ACK : fr === 1 ? RST : fr < 10 ? SYN : ACK
    out.push({...base, ts, flags, len: rng.int(200)})
  }
  return out
}

describe('FlowAssembler: hash table against a Map reference', () => {
  it.each([1, 2, 3])('matches on seeded random traffic (seed %i)', (seed) => {
    const rng = createRng(seed)
    const packets = randomTraffic(rng, 40_000, 5000)
    const opts = {idleTimeoutMicros: 10 * S, activeTimeoutMicros: 60 * S, batchSize: 777}
    const asm = new FlowAssembler(opts)
    const got: Flow[] = []
    let maxActive = 0
    for (let i = 0; i < packets.length; ) {
      const n = 1 + rng.int(5000)
      asm.push(packetBatch(packets.slice(i, i + n).map((p) => ({ts: p.ts, frame: refFrame(p), linktype: 101}))))
      maxActive = Math.max(maxActive, asm.stats.activeFlows)
      got.push(...rows(asm.takeReady()))
      i += n
    }
    got.push(...rows(asm.flush()))
    const want = referenceFlows(packets, opts.idleTimeoutMicros, opts.activeTimeoutMicros, 1 * S)
    expect(got.length).toBe(want.length)
    expect(got.map(flowKeyOf).sort()).toEqual(want)
    expect(asm.stats.activeFlows).toBe(0)
    expect(asm.stats.flowsEmitted).toBe(want.length)
    expect(maxActive).toBeGreaterThan(1024) // the table grew past its initial size
  })

  it('keeps memory flat on a long capture: flows expire and slots are reused', () => {
    const asm = new FlowAssembler({idleTimeoutMicros: 1 * S, batchSize: 4096})
    let emitted = 0
    let maxActive = 0
    // 200 s of traffic, 500 new flows every second, each living ~0.5 s
    for (let sec = 0; sec < 200; sec++) {
      const pk: TestPacket[] = []
      for (let j = 0; j < 500; j++) {
        const id = sec * 500 + j
        const p: RefPacket = {ts: T0 + sec * S + j * 1000, v6: false, src: id & 0xfff, dst: (id >> 12) & 0x3f, proto: 17, sport: 1 + (id % 60000), dport: 53, flags: 0, len: 10}
        pk.push({ts: p.ts, frame: refFrame(p), linktype: 101})
      }
      asm.push(packetBatch(pk))
      maxActive = Math.max(maxActive, asm.stats.activeFlows)
      for (const b of asm.takeReady()) emitted += b.length
    }
    for (const b of asm.flush()) emitted += b.length
    expect(emitted).toBe(100_000)
    expect(maxActive).toBeLessThan(2000)
  })
})

describe('FlowAssembler: ts_end >= ts_start whatever the packet order (issue #20)', () => {
  it('a packet older than the flow start widens the flow backwards; one older than the clock by more than the idle timeout does too', () => {
    const {flows} = run([udpPkt(T0 + 10 * S), udpPkt(T0 + 5 * S), udpPkt(T0 + 12 * S), udpPkt(T0 - 100 * S), udpPkt(T0 + 11 * S)])
    expect(flows).toHaveLength(1)
    expect(flows[0]).toMatchObject({tsStart: T0 - 100 * S, tsEnd: T0 + 12 * S, packets: 5})
  })

  it('shuffled packets over many flows and timeouts never give a record ending before it starts', () => {
    const rng = createRng(7)
    const packets: TestPacket[] = []
    for (let i = 0; i < 5000; i++) packets.push(udpPkt(T0 + Math.floor(rng.next() * 120 * S), 1000 + Math.floor(rng.next() * 50)))
    const {flows} = run(packets, {idleTimeoutMicros: 2 * S, activeTimeoutMicros: 10 * S})
    expect(flows.length).toBeGreaterThan(50)
    expect(flows.reduce((n, f) => n + f.packets, 0)).toBe(5000)
    for (const f of flows) expect(f.tsEnd).toBeGreaterThanOrEqual(f.tsStart)
  })
})
