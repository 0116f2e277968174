// The fuzzer's inputs: a few small real files per format from ../shared/data (CATALOG.md there), plus
// a few made here from them (nanosecond pcap, pcapng, raw export datagrams wrapped in a pcap, gzip CSV,
// flowscope's own Parquet export), and where their interesting fields are: the byte offsets of the
// length, count and time words of each container and export protocol, for the targeted mutations.
// Plain JavaScript over dist/ so that `npm run fuzz` (scripts/fuzz.mjs) runs without a TS loader.
import {mkdtempSync, readFileSync, readdirSync, rmSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {gzipSync} from 'node:zlib'

/** The formats and their inputs (paths relative to the data folder; `derive` says how a file is made here). */
export const SOURCES = {
  pcap: [
    {file: 'esnet-scanners/nmap_80_vanilla.pcap'},
    {file: 'ndpi-attacks/sql_injection.pcap'},
    {file: 'ndpi-attacks/xss.pcap'},
    {file: 'slips-stratosphere/test12-icmp-portscan.pcap'},
    {file: 'tcpdump-tests/accecn_handshake.pcap'},
    {file: 'tcpdump-tests/vxlan.pcap'},
    {file: 'tcpdump-tests/time_2038_overflow.pcap'},
    {file: 'tcpdump-tests/LINKTYPE_RAW_ipv6.pcap'},
    {file: 'ndpi-attacks/dns2tcp_tunnel.pcap'},
    {file: 'tcpdump-tests/802.1ad_QinQ.pcap'},
  ],
  'pcap-nsec': [
    {file: 'esnet-scanners/nmap_80_vanilla.pcap', derive: 'nsec'},
    {file: 'tcpdump-tests/accecn_handshake.pcap', derive: 'nsec'},
    {file: 'pmacct-flowexport/100-traffic-00.pcap', derive: 'nsec'},
  ],
  pcapng: [
    {file: 'ndpi-attacks/tcp_scan.pcapng'},
    {file: 'tcpdump-tests/time_2106_overflow.pcapng'},
    {file: 'esnet-scanners/nmap_80_vanilla.pcap', derive: 'pcapng'},
    {file: 'pmacct-flowexport/100-traffic-00.pcap', derive: 'pcapng'},
    {file: 'akvorado-flowexport/nfv5.pcap', derive: 'pcapng-nsec'},
  ],
  netflow5: [
    {file: 'akvorado-flowexport/nfv5.pcap'},
    {dat: ['logstash-netflow-dat/netflow5.dat']},
    {dat: ['logstash-netflow-dat/netflow5_test_juniper_mx80.dat']},
  ],
  netflow9: [
    {file: 'akvorado-flowexport/data+templates.pcap'},
    {file: 'pmacct-flowexport/101-traffic-00.pcap'},
    {file: 'pmacct-flowexport/102-traffic-00.pcap'},
    {concat: ['akvorado-flowexport/template.pcap', 'akvorado-flowexport/data.pcap']},
    {dat: ['logstash-netflow-dat/netflow9_test_cisco_asa_1_tpl.dat', 'logstash-netflow-dat/netflow9_test_cisco_asa_1_data.dat']},
    {dat: ['logstash-netflow-dat/netflow9_test_nprobe_tpl.dat', 'logstash-netflow-dat/netflow9_test_nprobe_data.dat']},
    {dat: ['logstash-netflow-dat/netflow9_test_valid01.dat']},
  ],
  ipfix: [
    {file: 'pmacct-flowexport/100-traffic-00.pcap'},
    {file: 'pmacct-flowexport/104-traffic-00.pcap'},
    {file: 'pmacct-flowexport/106-traffic-00.pcap'},
    {file: 'pmacct-flowexport/112-traffic-00.pcap'},
    {concat: ['akvorado-flowexport/ipfixprobe-templates.pcap', 'akvorado-flowexport/ipfixprobe-data.pcap']},
    {dat: ['logstash-netflow-dat/ipfix_test_mikrotik_tpl.dat', 'logstash-netflow-dat/ipfix_test_mikrotik_data258.dat']},
    {dat: ['logstash-netflow-dat/ipfix_test_openbsd_pflow_tpl.dat', 'logstash-netflow-dat/ipfix_test_openbsd_pflow_data.dat']},
  ],
  sflow: [
    {file: 'akvorado-flowexport/data-sflow-ipv4-data.pcap'},
    {file: 'akvorado-flowexport/data-1140.pcap'},
    {file: 'akvorado-flowexport/data-icmpv6.pcap'},
    {file: 'ndpi-flowexport/sflow.pcap'},
    {file: 'tcpdump-tests/sflow_expanded.pcap'},
  ],
  csv: [
    {file: 'slips-stratosphere/test11-portscan.binetflow'},
    {file: 'slips-stratosphere/test3-mixed.binetflow'},
    {file: 'slips-stratosphere/test5-mixed.binetflow'},
    {file: 'VERIFY/nfcapd-derived__nfcapd.akvorado-nf.flows.csv'},
    {file: 'slips-stratosphere/test18-ctu-sme-11-zeek-labeled/conn.log.labeled', derive: 'head'},
  ],
  'csv-gz': [
    {file: 'slips-stratosphere/test11-portscan.binetflow', derive: 'gzip'},
    {file: 'VERIFY/nfcapd-derived__nfcapd.akvorado-nf.flows.csv', derive: 'gzip'},
  ],
  parquet: [
    {file: 'esnet-scanners/nmap_80_vanilla.pcap', derive: 'parquet'},
    {file: 'pmacct-flowexport/100-traffic-00.pcap', derive: 'parquet'},
    {file: 'slips-stratosphere/test3-mixed.binetflow', derive: 'parquet'},
  ],
}

export const FORMATS = Object.keys(SOURCES)

/** What kind of mutations a format gets. */
export function familyOf(format) {
  if (format === 'csv') return 'text'
  if (format === 'csv-gz') return 'gzip'
  if (format === 'parquet') return 'parquet'
  return 'capture'
}

function describeSource(s) {
  if (s.file) return s.derive ? `${s.file} (${s.derive})` : s.file
  if (s.concat) return s.concat.join(' + ')
  return `${s.dat.join(' + ')} (wrapped in a pcap)`
}

const EXT = {pcap: '.pcap', 'pcap-nsec': '.pcap', pcapng: '.pcapng', netflow5: '.pcap', netflow9: '.pcap', ipfix: '.pcap', sflow: '.pcap', 'csv-gz': '.csv.gz', parquet: '.parquet'}

/**
 * Read (and derive) every input. Returns `{format: [{name, ext, bytes, structure}]}`; `parquet` inputs
 * are made by ingesting their source into a scratch store and exporting it (flowscope's own writer).
 */
export async function loadCorpus(dataDir, lib, formats = FORMATS) {
  const corpus = {}
  for (const format of formats) {
    corpus[format] = []
    for (const s of SOURCES[format]) {
      let bytes
      const read = (f) => new Uint8Array(readFileSync(path.join(dataDir, f)))
      if (s.concat) bytes = concatPcaps(s.concat.map(read))
      else if (s.dat) bytes = wrapDatagrams(s.dat.map(read), s.dat.map((d) => (path.basename(d).startsWith('ipfix') ? 4739 : 2055)))
      else if (s.derive === 'nsec') bytes = pcapToNsec(read(s.file))
      else if (s.derive === 'pcapng') bytes = pcapToPcapng(read(s.file), false)
      else if (s.derive === 'pcapng-nsec') bytes = pcapToPcapng(read(s.file), true)
      else if (s.derive === 'head') bytes = headLines(read(s.file), 70)
      else if (s.derive === 'gzip') bytes = new Uint8Array(gzipSync(read(s.file)))
      else if (s.derive === 'parquet') bytes = await parquetOf(path.join(dataDir, s.file), lib)
      else bytes = read(s.file)
      const ext = EXT[format] ?? (s.file ? path.extname(s.file) || '.csv' : '.csv')
      const family = familyOf(format)
      corpus[format].push({name: describeSource(s), ext, bytes, structure: family === 'capture' ? captureStructure(bytes) : null})
    }
  }
  return corpus
}

// ---------------------------------------------------------------------------------------------------
// derived inputs

function u32(b, o, le) {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(o, le)
}

function pcapEndian(b) {
  const m = u32(b, 0, false)
  if (m === 0xa1b2c3d4) return {le: false, nsec: false}
  if (m === 0xd4c3b2a1) return {le: true, nsec: false}
  if (m === 0xa1b23c4d) return {le: false, nsec: true}
  if (m === 0x4d3cb2a1) return {le: true, nsec: true}
  return null
}

function pcapRecords(b) {
  const e = pcapEndian(b)
  const out = []
  let off = 24
  while (off + 16 <= b.length) {
    const incl = u32(b, off + 8, e.le)
    if (off + 16 + incl > b.length) break
    out.push({off, sec: u32(b, off, e.le), sub: u32(b, off + 4, e.le), incl, orig: u32(b, off + 12, e.le), data: b.subarray(off + 16, off + 16 + incl)})
    off += 16 + incl
  }
  return {...e, snaplen: u32(b, 16, e.le), linktype: u32(b, 20, e.le), records: out}
}

/** The same capture with nanosecond timestamps (what `editcap -F nsecpcap` writes). */
function pcapToNsec(b) {
  const p = pcapRecords(b)
  const out = new Uint8Array(b)
  const dv = new DataView(out.buffer)
  dv.setUint32(0, 0xa1b23c4d, p.le)
  for (const r of p.records) dv.setUint32(r.off + 4, p.nsec ? r.sub : r.sub * 1000, p.le)
  return out
}

/** Several pcaps of one link type as one (the template file before the data file). */
function concatPcaps(files) {
  const parts = [files[0].subarray(0, 24)]
  for (const f of files) parts.push(f.subarray(24))
  return concatBytes(parts)
}

function concatBytes(parts) {
  return new Uint8Array(Buffer.concat(parts))
}

/** Raw export datagrams (logstash `*.dat`: UDP payloads) as Ethernet/IPv4/UDP packets of a pcap. */
function wrapDatagrams(payloads, ports) {
  const parts = []
  const hdr = new Uint8Array(24)
  const hv = new DataView(hdr.buffer)
  hv.setUint32(0, 0xa1b2c3d4, true)
  hv.setUint16(4, 2, true)
  hv.setUint16(6, 4, true)
  hv.setUint32(16, 65535, true)
  hv.setUint32(20, 1, true)
  parts.push(hdr)
  payloads.forEach((p, i) => {
    const len = 14 + 20 + 8 + p.length
    const rec = new Uint8Array(16 + len)
    const v = new DataView(rec.buffer)
    v.setUint32(0, 1_700_000_000 + i, true)
    v.setUint32(4, 0, true)
    v.setUint32(8, len, true)
    v.setUint32(12, len, true)
    const e = 16
    rec.set([0, 0, 0x5e, 0, 0, 1, 0, 0, 0x5e, 0, 0, 2, 0x08, 0x00], e)
    const ip = e + 14
    rec.set([0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0, 10, 255, 0, 1, 10, 0, 0, 1], ip)
    v.setUint16(ip + 2, 20 + 8 + p.length)
    let sum = 0
    for (let k = 0; k < 20; k += 2) sum += v.getUint16(ip + k)
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16)
    v.setUint16(ip + 10, ~sum & 0xffff)
    const udp = ip + 20
    v.setUint16(udp, 50000)
    v.setUint16(udp + 2, ports[i])
    v.setUint16(udp + 4, 8 + p.length)
    rec.set(p, udp + 8)
    parts.push(rec)
  })
  return concatBytes(parts)
}

/** A pcap as pcapng (SHB, one IDB, one EPB a packet); with `nsec`, if_tsresol 9 and nanosecond times. */
function pcapToPcapng(b, nsec) {
  const p = pcapRecords(b)
  const blocks = []
  const block = (type, body) => {
    const pad = (4 - (body.length % 4)) % 4
    const len = 12 + body.length + pad
    const out = new Uint8Array(len)
    const v = new DataView(out.buffer)
    v.setUint32(0, type, true)
    v.setUint32(4, len, true)
    out.set(body, 8)
    v.setUint32(len - 4, len, true)
    blocks.push(out)
  }
  const shb = new Uint8Array(16)
  const sv = new DataView(shb.buffer)
  sv.setUint32(0, 0x1a2b3c4d, true)
  sv.setUint16(4, 1, true)
  sv.setUint16(6, 0, true)
  sv.setBigInt64(8, -1n, true)
  block(0x0a0d0d0a, shb)
  const idb = new Uint8Array(nsec ? 8 + 8 + 4 : 8)
  const iv = new DataView(idb.buffer)
  iv.setUint16(0, p.linktype & 0xffff, true)
  iv.setUint32(4, p.snaplen, true)
  if (nsec) {
    iv.setUint16(8, 9, true) // if_tsresol
    iv.setUint16(10, 1, true)
    idb[12] = 9
    iv.setUint16(16, 0, true) // opt_endofopt
  }
  block(1, idb)
  for (const r of p.records) {
    const us = BigInt(r.sec) * 1_000_000n + BigInt(p.nsec ? Math.floor(r.sub / 1000) : r.sub)
    const t = nsec ? us * 1000n + BigInt(p.nsec ? r.sub % 1000 : 0) : us
    const body = new Uint8Array(20 + r.incl)
    const v = new DataView(body.buffer)
    v.setUint32(0, 0, true)
    v.setUint32(4, Number(t >> 32n), true)
    v.setUint32(8, Number(t & 0xffffffffn), true)
    v.setUint32(12, r.incl, true)
    v.setUint32(16, r.orig, true)
    body.set(r.data, 20)
    block(6, body)
  }
  return concatBytes(blocks)
}

/** The first `n` data lines of a text file (with its `#` header lines). */
function headLines(b, n) {
  const lines = Buffer.from(b).toString('latin1').split('\n')
  const out = []
  let data = 0
  for (const l of lines) {
    if (l.startsWith('#')) {
      if (!l.startsWith('#close')) out.push(l)
      continue
    }
    if (data++ >= n) break
    out.push(l)
  }
  return new Uint8Array(Buffer.from(`${out.join('\n')}\n`, 'latin1'))
}

/** flowscope's Parquet export of `file` (ingested into a scratch store): the first file it writes. */
async function parquetOf(file, lib) {
  const dir = mkdtempSync(path.join(tmpdir(), 'flowscope-fuzz-pq-'))
  const store = await lib.io.FlowStore.open(':memory:')
  try {
    await lib.io.ingestFile(store, file, {network: 'fuzz'})
    const r = await lib.io.exportFlows(store, dir, {format: 'parquet'})
    const f = r.files.filter((x) => x.endsWith('.parquet')).sort((a, b) => statSync(b).size - statSync(a).size)[0] ?? listParquet(dir)[0]
    return new Uint8Array(readFileSync(f))
  } finally {
    await store.close()
    rmSync(dir, {recursive: true, force: true})
  }
}

function listParquet(dir) {
  const out = []
  for (const e of readdirSync(dir, {withFileTypes: true})) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) out.push(...listParquet(p))
    else if (p.endsWith('.parquet')) out.push(p)
  }
  return out
}

// ---------------------------------------------------------------------------------------------------
// where the interesting fields of a capture are

// IPFIX / NetFlow v9 information elements worth aiming at
const IE_TIME = new Set([21, 22, 150, 151, 152, 153, 154, 155, 156, 157, 158, 159, 160, 322, 323, 324, 325])
const IE_COUNTER = new Set([1, 2, 3, 23, 24, 85, 86, 298, 299])
const IE_RATE = new Set([34, 50, 305, 306])
const IE_DURATION = new Set([161, 162])

/**
 * Fields of a capture: `[{off, size, le, kind, what}]` with kind 'length' | 'count' | 'time' |
 * 'counter' | 'rate' | 'tsresol', and the export payloads `[{off, len, proto}]` (for word mutations).
 */
export function captureStructure(b) {
  const fields = []
  const payloads = []
  const packets = []
  if (b.length < 4) return {fields, payloads, packets}
  const be = u32(b, 0, false)
  if (be === 0x0a0d0d0a) pcapngFields(b, fields, packets)
  else if (pcapEndian(b)) pcapFields(b, fields, packets)
  const templates = new Map()
  for (const p of packets) {
    const udp = udpOf(b, p, fields)
    if (!udp) continue
    const proto = exportFields(b, udp.off, udp.len, fields, templates)
    payloads.push({off: udp.off, len: udp.len, proto})
  }
  return {fields, payloads, packets}
}

function pcapFields(b, fields, packets) {
  const {le, nsec} = pcapEndian(b)
  const F = (off, size, kind, what) => fields.push({off, size, le, kind, what})
  F(16, 4, 'length', 'pcap header snaplen')
  const link = u32(b, 20, le) & 0xffff
  let off = 24
  let i = 0
  while (off + 16 <= b.length) {
    F(off, 4, 'time', `record ${i} ts_sec`)
    F(off + 4, 4, 'time', `record ${i} ts_${nsec ? 'nsec' : 'usec'}`)
    F(off + 8, 4, 'length', `record ${i} incl_len`)
    F(off + 12, 4, 'length', `record ${i} orig_len`)
    const incl = u32(b, off + 8, le)
    if (off + 16 + incl > b.length) break
    packets.push({off: off + 16, len: incl, link, index: i})
    off += 16 + incl
    i++
  }
}

function pcapngFields(b, fields, packets) {
  let off = 0
  let le = true
  let links = []
  let blk = 0
  const F = (o, size, kind, what) => fields.push({off: o, size, le, kind, what})
  while (off + 12 <= b.length) {
    if (u32(b, off, false) === 0x0a0d0d0a) {
      le = u32(b, off + 8, true) === 0x1a2b3c4d
      links = []
      F(off + 16, 8, 'length', `block ${blk} SHB section length`)
    }
    const type = u32(b, off, le)
    const len = u32(b, off + 4, le)
    F(off + 4, 4, 'length', `block ${blk} (type ${type}) total length`)
    if (len < 12 || len % 4 !== 0 || off + len > b.length) break
    F(off + len - 4, 4, 'length', `block ${blk} trailing total length`)
    let opts = -1
    if (type === 1 && len >= 20) {
      links.push(new DataView(b.buffer, b.byteOffset).getUint16(off + 8, le))
      F(off + 12, 4, 'length', `block ${blk} IDB snaplen`)
      opts = off + 16
    } else if (type === 6 && len >= 32) {
      F(off + 8, 4, 'count', `block ${blk} EPB interface id`)
      F(off + 12, 4, 'time', `block ${blk} EPB timestamp high`)
      F(off + 16, 4, 'time', `block ${blk} EPB timestamp low`)
      F(off + 20, 4, 'length', `block ${blk} EPB captured length`)
      F(off + 24, 4, 'length', `block ${blk} EPB original length`)
      const cap = u32(b, off + 20, le)
      const id = u32(b, off + 8, le)
      if (off + 28 + cap <= off + len - 4) {
        packets.push({off: off + 28, len: cap, link: links[id] ?? 1, index: blk})
        opts = off + 28 + cap + ((4 - (cap % 4)) % 4)
      }
    } else if (type === 3 && len >= 16) {
      F(off + 8, 4, 'length', `block ${blk} SPB original length`)
      packets.push({off: off + 12, len: Math.min(u32(b, off + 8, le), len - 16), link: links[0] ?? 1, index: blk})
    }
    if (opts >= 0) {
      const dv = new DataView(b.buffer, b.byteOffset)
      let o = opts
      while (o + 4 <= off + len - 4) {
        const code = dv.getUint16(o, le)
        const olen = dv.getUint16(o + 2, le)
        fields.push({off: o + 2, size: 2, le, kind: 'length', what: `block ${blk} option ${code} length`})
        if (code === 9 && type === 1) fields.push({off: o + 4, size: 1, le, kind: 'tsresol', what: `block ${blk} IDB if_tsresol`})
        if (code === 0) break
        o += 4 + olen + ((4 - (olen % 4)) % 4)
      }
    }
    off += len
    blk++
  }
}

/** The UDP payload of a packet (Ethernet with VLAN tags, Linux SLL/SLL2, raw IP), its IP/UDP length fields. */
function udpOf(b, p, fields) {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength)
  const end = p.off + p.len
  let o = p.off
  let ethertype
  if (p.link === 1) {
    if (o + 14 > end) return null
    ethertype = dv.getUint16(o + 12)
    o += 14
    while ((ethertype === 0x8100 || ethertype === 0x88a8) && o + 4 <= end) {
      ethertype = dv.getUint16(o + 2)
      o += 4
    }
  } else if (p.link === 113) {
    if (o + 16 > end) return null
    ethertype = dv.getUint16(o + 14)
    o += 16
  } else if (p.link === 276) {
    if (o + 20 > end) return null
    ethertype = dv.getUint16(o)
    o += 20
  } else if (p.link === 101 || p.link === 12 || p.link === 14 || p.link === 228 || p.link === 229) {
    if (o >= end) return null
    ethertype = b[o] >> 4 === 6 ? 0x86dd : 0x0800
  } else return null
  let proto
  if (ethertype === 0x0800) {
    if (o + 20 > end) return null
    fields.push({off: o + 2, size: 2, le: false, kind: 'length', what: `packet ${p.index} IPv4 total length`})
    proto = b[o + 9]
    o += (b[o] & 15) * 4
  } else if (ethertype === 0x86dd) {
    if (o + 40 > end) return null
    fields.push({off: o + 4, size: 2, le: false, kind: 'length', what: `packet ${p.index} IPv6 payload length`})
    proto = b[o + 6]
    o += 40
  } else return null
  if (proto !== 17 || o + 8 > end) return null
  fields.push({off: o + 4, size: 2, le: false, kind: 'length', what: `packet ${p.index} UDP length`})
  return {off: o + 8, len: end - o - 8, index: p.index}
}

/** Fields of one export datagram (NetFlow v5/v9, IPFIX, sFlow v5); returns the protocol or null. */
function exportFields(b, start, len, fields, templates) {
  if (len < 8) return null
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength)
  const end = start + len
  const F = (off, size, kind, what) => {
    if (off + size <= end) fields.push({off, size, le: false, kind, what})
  }
  const v16 = dv.getUint16(start)
  const abs = (o) => start + o
  if (v16 === 5 && len >= 24) {
    F(abs(2), 2, 'count', 'NetFlow v5 count')
    F(abs(4), 4, 'time', 'NetFlow v5 sysUptime')
    F(abs(8), 4, 'time', 'NetFlow v5 unix_secs')
    F(abs(12), 4, 'time', 'NetFlow v5 unix_nsecs')
    F(abs(22), 2, 'rate', 'NetFlow v5 sampling interval')
    for (let r = 0, o = 24; o + 48 <= len; r++, o += 48) {
      F(abs(o + 16), 4, 'counter', `NetFlow v5 record ${r} dPkts`)
      F(abs(o + 20), 4, 'counter', `NetFlow v5 record ${r} dOctets`)
      F(abs(o + 24), 4, 'time', `NetFlow v5 record ${r} First`)
      F(abs(o + 28), 4, 'time', `NetFlow v5 record ${r} Last`)
    }
    return 'netflow5'
  }
  if ((v16 === 9 && len >= 20) || (v16 === 10 && len >= 16)) {
    const ipfix = v16 === 10
    const name = ipfix ? 'IPFIX' : 'NetFlow v9'
    let o = ipfix ? 16 : 20
    if (ipfix) {
      F(abs(2), 2, 'length', 'IPFIX message length')
      F(abs(4), 4, 'time', 'IPFIX export time')
    } else {
      F(abs(2), 2, 'count', 'NetFlow v9 count')
      F(abs(4), 4, 'time', 'NetFlow v9 sysUptime')
      F(abs(8), 4, 'time', 'NetFlow v9 unix_secs')
    }
    while (o + 4 <= len) {
      const id = dv.getUint16(abs(o))
      const slen = dv.getUint16(abs(o + 2))
      F(abs(o + 2), 2, 'length', `${name} set ${id} length`)
      if (slen < 4 || o + slen > len) break
      const setEnd = o + slen
      const tplSet = ipfix ? id === 2 : id === 0
      const optSet = ipfix ? id === 3 : id === 1
      if (tplSet || optSet) {
        let t = o + 4
        while (t + 4 <= setEnd) {
          const tid = dv.getUint16(abs(t))
          let count
          let scope = 0
          if (optSet && !ipfix) {
            if (t + 6 > setEnd) break
            F(abs(t + 2), 2, 'length', `${name} options template ${tid} scope length`)
            F(abs(t + 4), 2, 'length', `${name} options template ${tid} option length`)
            count = (dv.getUint16(abs(t + 2)) + dv.getUint16(abs(t + 4))) / 4
            t += 6
          } else {
            F(abs(t + 2), 2, 'count', `${name} template ${tid} field count`)
            count = dv.getUint16(abs(t + 2))
            t += 4
            if (optSet) {
              F(abs(t), 2, 'count', `${name} options template ${tid} scope field count`)
              scope = dv.getUint16(abs(t))
              t += 2
            }
          }
          if (tid < 256 || count === 0 || !Number.isInteger(count)) break
          const tfields = []
          for (let k = 0; k < count && t + 4 <= setEnd; k++) {
            let ie = dv.getUint16(abs(t))
            const flen = dv.getUint16(abs(t + 2))
            F(abs(t + 2), 2, 'length', `${name} template ${tid} field ${k} (IE ${ie & 0x7fff}) length`)
            t += 4
            let enterprise = false
            if (ipfix && ie & 0x8000) {
              enterprise = true
              ie &= 0x7fff
              t += 4
            }
            tfields.push({ie: enterprise ? -1 : ie, len: flen})
          }
          void scope
          templates.set(tid, tfields)
          if (!optSet || ipfix) continue
          // v9 options templates are padded to the set end
          break
        }
      } else if (id >= 256 && templates.has(id)) {
        const tf = templates.get(id)
        let r = o + 4
        let rec = 0
        const fixed = tf.reduce((n, f) => n + (f.len === 0xffff ? 1 : f.len), 0)
        while (fixed > 0 && r + fixed <= setEnd && rec < 64) {
          for (const f of tf) {
            let flen = f.len
            if (flen === 0xffff) {
              flen = b[abs(r)]
              r += 1
              if (flen === 255) {
                flen = dv.getUint16(abs(r))
                r += 2
              }
            }
            const kind = IE_TIME.has(f.ie) ? 'time' : IE_COUNTER.has(f.ie) ? 'counter' : IE_RATE.has(f.ie) ? 'rate' : IE_DURATION.has(f.ie) ? 'time' : null
            if (kind && flen > 0 && flen <= 8) F(abs(r), flen, kind, `${name} data set ${id} record ${rec} IE ${f.ie}`)
            r += flen
          }
          rec++
        }
      }
      o = setEnd
    }
    return ipfix ? 'ipfix' : 'netflow9'
  }
  if (v16 === 0 && dv.getUint16(start + 2) === 5 && len >= 28) {
    const addrType = dv.getUint32(abs(4))
    let o = 8 + (addrType === 2 ? 16 : 4)
    F(abs(o + 8), 4, 'time', 'sFlow uptime')
    F(abs(o + 12), 4, 'count', 'sFlow sample count')
    const n = o + 16 <= len ? dv.getUint32(abs(o + 12)) : 0
    o += 16
    for (let s = 0; s < n && s < 64 && o + 8 <= len; s++) {
      const tag = dv.getUint32(abs(o))
      const slen = dv.getUint32(abs(o + 4))
      F(abs(o + 4), 4, 'length', `sFlow sample ${s} length`)
      const body = o + 8
      const next = body + slen
      if (next > len) break
      const format = tag & 0xfff
      const enterprise = tag >>> 12
      let recs = -1
      if (enterprise === 0 && format === 1) {
        F(abs(body + 8), 4, 'rate', `sFlow sample ${s} sampling rate`)
        F(abs(body + 12), 4, 'counter', `sFlow sample ${s} sample pool`)
        F(abs(body + 28), 4, 'count', `sFlow sample ${s} record count`)
        recs = body + 32
      } else if (enterprise === 0 && format === 3) {
        F(abs(body + 12), 4, 'rate', `sFlow sample ${s} sampling rate`)
        F(abs(body + 16), 4, 'counter', `sFlow sample ${s} sample pool`)
        F(abs(body + 40), 4, 'count', `sFlow sample ${s} record count`)
        recs = body + 44
      } else if (enterprise === 0 && (format === 2 || format === 4)) {
        const at = format === 2 ? body + 8 : body + 12
        F(abs(at), 4, 'count', `sFlow sample ${s} counter record count`)
        recs = at + 4
      }
      if (recs > 0) {
        const nrec = recs - 4 + 4 <= len ? dv.getUint32(abs(recs - 4)) : 0
        let r = recs
        for (let k = 0; k < nrec && k < 64 && r + 8 <= next; k++) {
          const rtag = dv.getUint32(abs(r))
          const rlen = dv.getUint32(abs(r + 4))
          F(abs(r + 4), 4, 'length', `sFlow sample ${s} record ${k} length`)
          if ((rtag & 0xfff) === 1 && rtag >>> 12 === 0 && (format === 1 || format === 3)) {
            F(abs(r + 12), 4, 'length', `sFlow sample ${s} record ${k} frame length`)
            F(abs(r + 16), 4, 'count', `sFlow sample ${s} record ${k} stripped`)
            F(abs(r + 20), 4, 'length', `sFlow sample ${s} record ${k} header length`)
          }
          r += 8 + rlen
        }
      }
      o = next
    }
    return 'sflow'
  }
  return null
}

