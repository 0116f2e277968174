/**
 * Real captures against tshark's view of them. For every capture under the shared data folder that has
 * a `VERIFY/<folder>__<file>.txt` (capinfos + `tshark -q -z conv,ip|tcp|udp`, first 12 rows per table),
 * our flows, summed per conversation and direction, must give tshark's frame counts, and the numbers of
 * distinct conversations must match the "(N conversations total)" lines.
 *
 * tshark decodes deeper than a flow exporter in a few documented ways; files affected are listed in
 * KNOWN_DIFFERENCES with the reason, and the listed check must really differ (so the list cannot rot).
 */
import {existsSync, readdirSync, readFileSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {describe, expect, it} from 'vitest'
import {readCapture} from '../../src/io/capture/capture-reader.js'
import {FlowAssembler, type FlowAssemblerStats} from '../../src/io/capture/flow-assembler.js'
import type {FlowBatch} from '../../src/core/flow-batch.js'
import {addrToBigInt, parseIp} from '../../src/core/ip.js'
import type {CaptureReadStats} from '../../src/io/capture/packet-batch.js'

const DATA_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared/data')
const VERIFY_DIR = path.join(DATA_DIR, 'VERIFY')

type Table = 'ip' | 'tcp' | 'udp'
/** `<table>`: per-conversation frame counts of the listed rows; `<table>-total`: number of conversations */
type Check = Table | `${Table}-total`

const TUNNEL = 'tshark also decodes the encapsulated packet and adds its inner conversation; flows meter the outer header only, as nfpcapd and exporters do'
const FRAGMENTS = 'tshark reassembles IP fragments and counts a datagram once in conv,tcp/udp (in the frame of its last fragment); flows count every fragment, as exporters do'

const KNOWN_DIFFERENCES: Record<string, {skip: Check[]; reason: string}> = {
  'tcpdump-tests/vxlan.pcap': {skip: ['ip', 'ip-total'], reason: `VXLAN (RFC 7348): ${TUNNEL}`},
  'tcpdump-tests/mpls-over-udp.pcap': {skip: ['ip', 'ip-total'], reason: `MPLS-in-UDP (RFC 7510): ${TUNNEL}`},
  'tcpdump-tests/various_gre.pcap': {skip: ['ip', 'ip-total'], reason: `GRE and GRE-in-GRE (RFC 2784): ${TUNNEL}`},
  'tcpdump-tests/pim-packet-assortment.pcap': {
    skip: ['ip', 'ip-total', 'udp', 'udp-total'],
    reason: `PIM Register messages carry the multicast data packet (RFC 7761 §4.9.3): ${TUNNEL}`,
  },
  'slips-stratosphere/test-cc-capture-1.pcap': {
    skip: ['tcp-total'],
    reason: 'a TCP port pair is reused after the connection closed; tshark numbers each use as its own tcp.stream conversation, we count distinct port pairs',
  },
  'bench-ndpi-concat/DERIVED_ndpi_benign_concat.pcap': {
    skip: ['tcp', 'udp', 'ip-total', 'tcp-total', 'udp-total'],
    reason:
      `concatenation of 467 captures with VXLAN, GTP-U, CAPWAP, Teredo, 6in4 and FabricPath traffic (${TUNNEL}) and tiny IP fragments (${FRAGMENTS}); ` +
      'tshark also splits one port pair into several conversations (a second SYN starts a new tcp.stream; SIP/SDP-announced RTP gets its own UDP conversation), ' +
      'so a listed row can hold only part of the pair (95.237.48.208:59791 <-> 192.168.2.110:6900 has a 4-frame second row beyond the 12 listed; ' +
      '10.23.1.52:16756 <-> 10.35.60.100:15580 is spread over eight RTP rows). The conv,ip rows, which tshark does not split, are still checked',
  },
}

interface ConvRow {
  a: string
  b: string
  /** frames A → B ("->" column) */
  ab: number
  /** frames B → A ("<-" column) */
  ba: number
}

interface Verify {
  packets: number | undefined
  packetsUnit: number
  tables: Partial<Record<Table, {rows: ConvRow[]; total: number | undefined}>>
}

const TABLE_TITLE: Record<string, Table> = {'IPv4 Conversations': 'ip', 'TCP Conversations': 'tcp', 'UDP Conversations': 'udp'}

function parseVerify(text: string): Verify {
  const v: Verify = {packets: undefined, packetsUnit: 1, tables: {}}
  // capinfos abbreviates large counts ("15 k"): keep the unit to compare at that precision
  const m = /^Number of packets:\s+(\d+)( k| M)?$/m.exec(text)
  if (m) {
    v.packets = Number(m[1])
    v.packetsUnit = m[2] === ' k' ? 1e3 : m[2] === ' M' ? 1e6 : 1
  }
  let current: {rows: ConvRow[]; total: number | undefined} | undefined
  for (const line of text.split('\n')) {
    const title = TABLE_TITLE[line.trim()]
    if (title !== undefined) {
      current = {rows: [], total: undefined}
      v.tables[title] = current
      continue
    }
    if (!current) continue
    const total = /\((\d+) conversations total\)/.exec(line)
    if (total) {
      current.total = Number(total[1])
      current = undefined
      continue
    }
    if (!line.includes('<->')) continue
    // A <-> B  frames bytes unit (B→A)  frames bytes unit (A→B)  frames bytes unit (total)  start  duration
    const t = line.trim().split(/\s+/)
    current.rows.push({a: t[0]!, b: t[2]!, ba: Number(t[3]), ab: Number(t[6])})
  }
  return v
}

/** tshark endpoint text ("10.0.0.1", "10.0.0.1:80", "fe80::1:546") → our key form */
function endpointKey(text: string, withPort: boolean): string {
  let addr = text
  let port = ''
  if (withPort) {
    const i = text.lastIndexOf(':')
    addr = text.slice(0, i)
    port = text.slice(i + 1)
  }
  const ip = parseIp(addr)
  if (!ip) throw new Error(`cannot parse tshark address ${addr}`)
  return `${ip.value}/${port}`
}

interface Ours {
  /** directed frame counts per table, key `src|dst` (endpoint keys) */
  directed: Record<Table, Map<string, number>>
  /** distinct undirected conversations per table */
  conversations: Record<Table, number>
  records: number
  stats: FlowAssemblerStats
}

async function meter(file: string): Promise<Ours> {
  const directed: Ours['directed'] = {ip: new Map(), tcp: new Map(), udp: new Map()}
  const add = (t: Table, key: string, n: number): void => {
    directed[t].set(key, (directed[t].get(key) ?? 0) + n)
  }
  const collect = (batches: FlowBatch[]): void => {
    for (const b of batches) {
      for (let i = 0; i < b.length; i++) {
        const src = addrToBigInt(b.srcAddr, i)
        const dst = addrToBigInt(b.dstAddr, i)
        const n = b.packets[i]!
        if (b.family[i] === 4) add('ip', `${src}/|${dst}/`, n)
        const proto = b.proto[i]
        // a TCP/UDP flow with both ports 0 is one whose L4 header was not captured (or fragments
        // without their first): tshark makes no TCP/UDP conversation for those
        if ((proto === 6 || proto === 17) && (b.srcPort[i] !== 0 || b.dstPort[i] !== 0)) {
          add(proto === 6 ? 'tcp' : 'udp', `${src}/${b.srcPort[i]}|${dst}/${b.dstPort[i]}`, n)
        }
      }
    }
  }
  const readStats: CaptureReadStats = {format: undefined, records: 0, badRecords: 0, bytesRead: 0}
  const asm = new FlowAssembler()
  for await (const batch of readCapture(file, {}, readStats)) {
    asm.push(batch)
    collect(asm.takeReady())
  }
  collect(asm.flush())
  const conversations = {} as Record<Table, number>
  for (const t of ['ip', 'tcp', 'udp'] as const) {
    const seen = new Set<string>()
    for (const key of directed[t].keys()) {
      const [s, d] = key.split('|') as [string, string]
      seen.add(s < d ? `${s}|${d}` : `${d}|${s}`)
    }
    conversations[t] = seen.size
  }
  return {directed, conversations, records: readStats.records, stats: asm.stats}
}

/** Differences between tshark's listed rows / totals and ours, per check. */
function compare(v: Verify, ours: Ours): Record<Check, string[]> {
  const diffs: Record<Check, string[]> = {ip: [], tcp: [], udp: [], 'ip-total': [], 'tcp-total': [], 'udp-total': []}
  for (const t of ['ip', 'tcp', 'udp'] as const) {
    const table = v.tables[t]
    if (!table) continue
    // a port pair can appear in several rows (tshark splits streams): sum the listed rows per direction
    const want = new Map<string, number>()
    for (const r of table.rows) {
      const a = endpointKey(r.a, t !== 'ip')
      const b = endpointKey(r.b, t !== 'ip')
      if (a === b) {
        want.set(`${a}|${a}`, (want.get(`${a}|${a}`) ?? 0) + r.ab + r.ba)
      } else {
        want.set(`${a}|${b}`, (want.get(`${a}|${b}`) ?? 0) + r.ab)
        want.set(`${b}|${a}`, (want.get(`${b}|${a}`) ?? 0) + r.ba)
      }
    }
    for (const [key, frames] of want) {
      const got = ours.directed[t].get(key) ?? 0
      if (got !== frames) diffs[t].push(`${key}: tshark ${frames} frames, flows ${got}`)
    }
    if (table.total !== undefined && table.total !== ours.conversations[t]) {
      diffs[`${t}-total`].push(`tshark ${table.total} conversations, flows ${ours.conversations[t]}`)
    }
  }
  return diffs
}

function listCaptures(): {name: string; file: string; verify: string}[] {
  if (!existsSync(VERIFY_DIR)) return []
  const out: {name: string; file: string; verify: string}[] = []
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, {withFileTypes: true})) {
      const p = path.join(dir, e.name)
      if (e.isDirectory()) {
        if (p !== VERIFY_DIR) walk(p)
      } else if (/\.(pcap|pcapng)$/.test(e.name)) {
        const rel = path.relative(DATA_DIR, p).split(path.sep)
        const verify = path.join(VERIFY_DIR, `${rel.slice(0, -1).join('__')}__${rel.at(-1)}.txt`)
        if (existsSync(verify)) out.push({name: rel.join('/'), file: p, verify})
      }
    }
  }
  walk(DATA_DIR)
  return out.sort((x, y) => x.name.localeCompare(y.name))
}

const captures = listCaptures()

describe.skipIf(captures.length === 0)('captures agree with tshark conversation tables', () => {
  it.each(captures)('$name', async ({name, file, verify}) => {
    const v = parseVerify(readFileSync(verify, 'utf8'))
    expect(v.tables.ip, 'VERIFY file has a conv,ip table').toBeDefined()
    const ours = await meter(file)
    if (v.packets !== undefined) {
      if (v.packetsUnit === 1) expect(ours.records).toBe(v.packets)
      else expect(Math.abs(ours.records - v.packets * v.packetsUnit)).toBeLessThan(v.packetsUnit)
    }
    const diffs = compare(v, ours)
    const known = KNOWN_DIFFERENCES[name]
    for (const check of Object.keys(diffs) as Check[]) {
      if (known?.skip.includes(check)) {
        expect(diffs[check], `${name}: ${check} is allowlisted (${known.reason}) but agrees with tshark; remove it`).not.toEqual([])
      } else {
        expect(diffs[check], `${name}: ${check}`).toEqual([])
      }
    }
  })

  it('every allowlisted file exists', () => {
    const names = new Set(captures.map((c) => c.name))
    expect(Object.keys(KNOWN_DIFFERENCES).filter((n) => !names.has(n))).toEqual([])
  })
})

describe.skipIf(!existsSync(path.join(DATA_DIR, 'tcpdump-tests')))('tcpdump robustness captures', () => {
  const dir = path.join(DATA_DIR, 'tcpdump-tests')
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => /\.(pcap|pcapng)$/.test(f)) : []

  it.each(files)('%s reads and decodes without throwing', async (f) => {
    const ours = await meter(path.join(dir, f))
    const s = ours.stats
    expect(s.packets).toBe(ours.records)
    expect(s.nonIp + s.undecodable).toBeLessThanOrEqual(s.packets)
  })

  // what the deliberately malformed packets become
  it.each([
    ['ipv6_frag6_negative_len.pcap', {undecodable: 1}, 0],
    ['ipv6hdr-heapoverflow.pcap', {undecodable: 1}, 0],
    ['tcp_header_heapoverflow.pcap', {undecodable: 0, nonIp: 0}, 0], // TCP header cut: an IP flow without ports
    ['udp-length-heapoverflow.pcap', {undecodable: 0, nonIp: 0}, 0],
    ['802.1ad_QinQ.pcap', {nonIp: 2}, 0],
    ['esp_truncated.pcap', {undecodable: 0, fragments: 1}, 1],
  ] as const)('%s', async (f, expected, udpConversations) => {
    const file = path.join(dir, f)
    if (!existsSync(file)) return
    const ours = await meter(file)
    expect(ours.stats).toMatchObject(expected)
    expect(ours.conversations.udp + ours.conversations.tcp).toBe(udpConversations)
  })
})
