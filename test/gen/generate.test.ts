import {createHash} from 'node:crypto'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {UsageError} from '../../src/core/errors.js'
import {ATTACK_KINDS, BENIGN_KINDS, FLOW_CSV_HEADER, generateTraffic, makeFixtures, type GenerateResult, type GroundTruth} from '../../src/gen/index.js'
import {FIXTURES} from '../helpers/cli.js'
import {flowKey, meterFlows, readCaptureFile, readFlowsCsv, type CaptureInfo, type CsvFlow} from './capture-check.js'

const dirs: string[] = []
function tempDir(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'flowscope-gen-'))
  dirs.push(d)
  return d
}

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex')
}

afterAll(() => {
  for (const d of dirs) rmSync(d, {recursive: true, force: true})
})

describe('generateTraffic: a 20,000-packet pcap with every attack', () => {
  let r: GenerateResult
  let truth: GroundTruth
  let cap: CaptureInfo
  let csv: CsvFlow[]

  beforeAll(async () => {
    const out = path.join(tempDir(), 'demo.pcap')
    const progress: number[] = []
    r = await generateTraffic({out, packets: 20_000, seed: 1, truthFlows: true, onProgress: (n) => progress.push(n)})
    truth = JSON.parse(readFileSync(r.truthPath, 'utf8')) as GroundTruth
    cap = readCaptureFile(out)
    const parsed = readFlowsCsv(r.flowsPath!)
    expect(parsed.header).toBe(FLOW_CSV_HEADER)
    csv = parsed.flows
    expect(progress.at(-1)).toBe(r.packets)
  })

  it('writes the truth next to the capture and reports the exact packet count near the target', () => {
    expect(r.truthPath).toBe(`${r.out}.truth.json`)
    expect(r.flowsPath).toBe(`${r.out}.flows.csv`)
    expect(truth).toEqual(r.truth)
    expect(truth.packets).toBe(r.packets)
    expect(r.packets).toBeGreaterThanOrEqual(20_000)
    expect(r.packets).toBeLessThan(21_000)
    expect(truth.start).toBe('2026-01-05T00:00:00.000Z')
    expect(truth.assumptions.idleTimeoutSec).toBe(15)
    expect(truth.assumptions.activeTimeoutSec).toBe(1800)
    expect(truth.hosts.internal).toBeGreaterThan(100)
    expect(truth.hosts.external).toBeGreaterThan(100)
  })

  it('totals equal the sum over kinds and over families', () => {
    const kinds = Object.values(truth.kinds)
    expect(Object.keys(truth.kinds).sort()).toEqual([...BENIGN_KINDS, ...ATTACK_KINDS].sort())
    for (const field of ['flows', 'packets', 'bytes'] as const) {
      expect(kinds.reduce((s, v) => s + v[field], 0)).toBe(truth[field])
      expect(truth.families.ipv4[field] + truth.families.ipv6[field]).toBe(truth[field])
    }
  })

  it('totals equal what the capture holds (read back independently)', () => {
    expect(cap.format).toBe('pcap')
    expect(cap.linktype).toBe(1)
    expect(cap.packets.length).toBe(truth.packets)
    expect(cap.packets.reduce((s, p) => s + p.ipBytes, 0)).toBe(truth.bytes)
    expect(cap.packets.every((p) => p.ipChecksumOk && p.caplen === p.origLen && p.origLen === p.ipBytes + 14)).toBe(true)
    const v6 = cap.packets.filter((p) => p.family === 6)
    expect(v6.length).toBe(truth.families.ipv6.packets)
    expect(v6.reduce((s, p) => s + p.ipBytes, 0)).toBe(truth.families.ipv6.bytes)
    // packets in time order, first at the default start
    for (let i = 1; i < cap.packets.length; i++) expect(cap.packets[i]!.ts >= cap.packets[i - 1]!.ts).toBe(true)
    expect(cap.packets[0]!.ts).toBe(truth.startUs)
    expect(cap.packets.at(-1)!.ts).toBe(truth.endUs)
  })

  it('the flow CSV equals the flows metered from the capture, row by row', () => {
    const metered = meterFlows(cap.packets).sort()
    const listed = csv.map((f) => f.row).sort()
    expect(listed.length).toBe(truth.flows)
    expect(metered).toEqual(listed)
  })

  it('the flow CSV sums to the kinds totals', () => {
    for (const [kind, v] of Object.entries(truth.kinds)) {
      const rows = csv.filter((f) => f.kind === kind)
      expect({kind, flows: rows.length, packets: rows.reduce((s, f) => s + f.packets, 0), bytes: rows.reduce((s, f) => s + f.bytes, 0)}).toEqual({kind, ...v})
    }
    for (const a of truth.attacks) expect({flows: a.flows, packets: a.packets, bytes: a.bytes}).toEqual(truth.kinds[a.kind])
  })

  it('keeps gaps inside a flow under 10 s, pauses at 20-60 s, and every flow under 1800 s', () => {
    const last = new Map<string, number>()
    let pauses = 0
    for (const p of cap.packets) {
      const k = flowKey(p)
      const prev = last.get(k)
      if (prev !== undefined) {
        const gap = p.ts - prev
        expect(gap < 10e6 || gap > 20e6, `gap of ${gap} µs in ${k}`).toBe(true)
        if (gap > 20e6 && gap <= 60e6) pauses++
      }
      last.set(k, p.ts)
    }
    expect(pauses).toBeGreaterThan(0)
    for (const f of csv) expect(f.end - f.start).toBeLessThan(1800e6)
  })

  it('has about 15% IPv6 traffic, with ICMPv6 and RFC 5952 addresses', () => {
    const share = truth.families.ipv6.packets / truth.packets
    expect(share).toBeGreaterThan(0.07)
    expect(share).toBeLessThan(0.3)
    expect(csv.some((f) => f.proto === 58 && f.dstPort === 128 * 256)).toBe(true)
    expect(csv.some((f) => f.proto === 58 && f.dstPort === 129 * 256)).toBe(true)
    expect(csv.some((f) => f.src.startsWith('fd00:1:'))).toBe(true)
  })

  it('has TCP handshakes, FIN and RST closes, DNS on port 53 and ICMP echo flows', () => {
    const tcp = csv.filter((f) => f.kind === 'benign-tcp')
    expect(tcp.some((f) => (f.flags & 0x13) === 0x13)).toBe(true) // SYN, ACK, FIN
    expect(tcp.some((f) => (f.flags & 0x04) !== 0)).toBe(true)
    expect(csv.filter((f) => f.kind === 'benign-dns').every((f) => f.proto === 17 && (f.dstPort === 53 || f.srcPort === 53))).toBe(true)
    expect(csv.some((f) => f.proto === 1 && f.dstPort === 8 * 256)).toBe(true)
    expect(csv.some((f) => f.proto === 1 && f.dstPort === 0)).toBe(true)
  })

  it('injects every attack with plausible counts', () => {
    const by = Object.fromEntries(truth.attacks.map((a) => [a.kind, a]))
    expect(Object.keys(by).sort()).toEqual([...ATTACK_KINDS].sort())
    for (const a of truth.attacks) {
      expect(a.packets, a.kind).toBeGreaterThan(50)
      expect(a.startUs).toBeLessThan(a.endUs)
      expect(a.label.length).toBeGreaterThan(10)
    }
    const hs = by['horizontal-scan']!
    expect(hs.dstCount).toBeGreaterThan(100)
    const hsFlows = csv.filter((f) => f.kind === 'horizontal-scan' && f.src === hs.src[0])
    expect(new Set(hsFlows.map((f) => f.dst)).size).toBe(hs.dstCount)
    expect(hsFlows.every((f) => f.dstPort === hs.ports[0])).toBe(true)

    const vs = by['vertical-scan']!
    const vsFlows = csv.filter((f) => f.kind === 'vertical-scan' && f.src === vs.src[0])
    expect(new Set(vsFlows.map((f) => f.dstPort)).size).toBe(vs.portCount)
    expect(vs.portCount).toBeGreaterThan(100)
    expect(new Set(vsFlows.map((f) => f.dst))).toEqual(new Set(vs.dst))

    const sf = by['syn-flood']!
    const syns = csv.filter((f) => f.kind === 'syn-flood' && f.dst === sf.dst[0])
    expect(syns.length).toBe(sf.srcCount)
    expect(syns.every((f) => f.flags === 0x02 && f.packets === 1 && f.dstPort === sf.ports[0])).toBe(true)
    expect(sf.srcCount).toBeGreaterThan(200)

    const amp = by['udp-amplification']!
    const ampFlows = csv.filter((f) => f.kind === 'udp-amplification')
    expect(ampFlows.every((f) => f.dst === amp.dst[0] && [53, 123, 11211].includes(f.srcPort) && f.proto === 17)).toBe(true)
    expect(amp.bytes / amp.packets).toBeGreaterThan(400)
    expect(amp.srcCount).toBeGreaterThanOrEqual(10)

    const ssh = by['ssh-bruteforce']!
    const sshIn = csv.filter((f) => f.kind === 'ssh-bruteforce' && f.dstPort === 22)
    expect(sshIn.length).toBe(ssh.params.sessions)
    expect(sshIn.length).toBeGreaterThanOrEqual(8)
    expect(new Set(sshIn.map((f) => f.srcPort)).size).toBe(sshIn.length)

    const c2 = by['c2-beacon']!
    const beacons = csv.filter((f) => f.kind === 'c2-beacon' && f.dst === c2.dst[0]).map((f) => f.start).sort((a, b) => a - b)
    expect(beacons.length).toBeGreaterThanOrEqual(10)
    for (let i = 1; i < beacons.length; i++) {
      const period = (beacons[i]! - beacons[i - 1]!) / 1e6
      expect(period).toBeGreaterThanOrEqual(56)
      expect(period).toBeLessThanOrEqual(64)
    }

    const ex = by.exfiltration!
    const up = csv.filter((f) => f.kind === 'exfiltration' && f.src === ex.src[0])
    const down = csv.filter((f) => f.kind === 'exfiltration' && f.dst === ex.src[0])
    expect(up.length).toBe(1)
    expect(down.length).toBe(1)
    expect(up[0]!.bytes).toBeGreaterThan(20 * down[0]!.bytes)
    expect(up[0]!.end - up[0]!.start).toBeGreaterThan(60e6)
  })
})

describe('generateTraffic: determinism and formats', () => {
  it('same seed and options give byte-identical capture and truth; another seed differs', async () => {
    const run = async (seed: number, dir: string): Promise<string[]> => {
      const out = path.join(dir, 'x.pcapng')
      await generateTraffic({out, packets: 4000, seed, format: 'pcapng', truthFlows: true})
      return [sha256(out), sha256(`${out}.truth.json`), sha256(`${out}.flows.csv`)]
    }
    const a = await run(7, tempDir())
    const b = await run(7, tempDir())
    const c = await run(8, tempDir())
    expect(b).toEqual(a)
    expect(c[0]).not.toBe(a[0])
    expect(c[1]).not.toBe(a[1])
  })

  it('remakes the bundled fixtures byte for byte (capture, truth and flows)', async () => {
    const made = await makeFixtures(tempDir())
    expect(made).toHaveLength(2)
    for (const f of made) {
      for (const file of [f.path, f.truthPath, f.flowsPath!]) {
        expect(sha256(file), path.basename(file)).toBe(sha256(path.join(FIXTURES, path.basename(file))))
      }
    }
  })

  it('writes valid nanosecond pcapng whose flows match the truth', async () => {
    const out = path.join(tempDir(), 'ns.pcapng')
    const r = await generateTraffic({out, packets: 3000, seed: 3, format: 'pcapng', nanosecond: true, truthFlows: true})
    const cap = readCaptureFile(out)
    expect(cap.format).toBe('pcapng')
    expect(cap.nanosecond).toBe(true)
    expect(cap.packets.length).toBe(r.packets)
    expect(cap.packets.reduce((s, p) => s + p.ipBytes, 0)).toBe(r.bytes)
    expect(meterFlows(cap.packets).sort()).toEqual(readFlowsCsv(r.flowsPath!).flows.map((f) => f.row).sort())
  })

  it('truncates to the snaplen and caps payloads while IP lengths keep counting', async () => {
    const out = path.join(tempDir(), 'snap.pcap')
    const r = await generateTraffic({out, packets: 3000, seed: 4, snaplen: 96, maxPayload: 600})
    const cap = readCaptureFile(out)
    expect(cap.snaplen).toBe(96)
    expect(cap.packets.every((p) => p.caplen <= 96 && p.origLen === p.ipBytes + 14)).toBe(true)
    expect(cap.packets.some((p) => p.caplen < p.origLen)).toBe(true)
    expect(Math.max(...cap.packets.map((p) => p.ipBytes))).toBeLessThanOrEqual(40 + 20 + 600)
    expect(cap.packets.reduce((s, p) => s + p.ipBytes, 0)).toBe(r.bytes)
  })

  it('honours the attack list, internal networks and start time', async () => {
    const out = path.join(tempDir(), 'sel.pcap')
    const r = await generateTraffic({
      out,
      packets: 3000,
      seed: 5,
      attacks: ['syn-flood'],
      internalNet: ['192.168.16.0/20', 'fd12:3456::/48'],
      start: '2025-06-01T12:00:00Z',
      truthFlows: path.join(path.dirname(out), 'flows.csv'),
      truthPath: path.join(path.dirname(out), 'truth.json'),
    })
    expect(r.truth.attacks.map((a) => a.kind)).toEqual(['syn-flood'])
    expect(Object.keys(r.truth.kinds).sort()).toEqual([...BENIGN_KINDS, 'syn-flood'].sort())
    expect(r.truth.internalNets).toEqual(['192.168.16.0/20', 'fd12:3456::/48'])
    expect(r.truth.start).toBe('2025-06-01T12:00:00.000Z')
    const flows = readFlowsCsv(r.flowsPath!).flows
    expect(r.flowsPath).toBe(path.join(path.dirname(out), 'flows.csv'))
    const internal = (ip: string): boolean => /^192\.168\.(1[6-9]|2\d|3[01])\./.test(ip) || ip.startsWith('fd12:3456:')
    expect(flows.every((f) => internal(f.src) || internal(f.dst))).toBe(true)
  })

  it('rejects bad options with a UsageError', async () => {
    const out = path.join(tempDir(), 'bad.pcap')
    await expect(generateTraffic({out, packets: 0})).rejects.toThrow(UsageError)
    await expect(generateTraffic({out, packets: 10, attacks: ['ddos' as never]})).rejects.toThrow(/unknown attack/)
    await expect(generateTraffic({out, packets: 10, internalNet: '10.0.0.0'})).rejects.toThrow(/CIDR/)
    await expect(generateTraffic({out, packets: 10, internalNet: '10.0.0.0/28'})).rejects.toThrow(/prefix/)
    await expect(generateTraffic({out, packets: 10, seed: -1})).rejects.toThrow(UsageError)
  })
})
