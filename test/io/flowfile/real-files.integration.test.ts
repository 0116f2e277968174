/**
 * Flow-file presets on the public files in ../shared/data: Argus binetflow and a labelled Zeek
 * conn.log from Stratosphere (Slips), and nfdump's own CSV of the nfcapd files. Totals are checked
 * against sums computed here from the files' columns, and for nfdump against `nfdump -I`.
 */
import {existsSync, readdirSync, readFileSync} from 'node:fs'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {canonicalAddress} from '../../../src/io/flowfile/index.js'
import {ingestFlowFile} from '../../../src/io/ingest/index.js'
import {parseIp} from '../../../src/core/ip.js'
import {FlowStore} from '../../../src/io/store/store.js'
import {column, num, readDelimited, SHARED_DATA, sum, totals} from './helpers.js'

const SLIPS = `${SHARED_DATA}/slips-stratosphere`
const ZEEK = `${SLIPS}/test18-ctu-sme-11-zeek-labeled/conn.log.labeled`
const VERIFY = `${SHARED_DATA}/VERIFY`
const NON_IP = new Set(['arp', 'llc', 'man'])

/** flows a record gives: forward unless all its traffic is reverse, reverse when it has any */
const flowsOf = (fp: number, fb: number, rp: number, rb: number): number =>
  (fp > 0 || fb > 0 || !(rp > 0 || rb > 0) ? 1 : 0) + (rp > 0 || rb > 0 ? 1 : 0)

let store: FlowStore
beforeEach(async () => {
  store = await FlowStore.open(':memory:')
})
afterEach(async () => {
  await store.close()
})

describe.skipIf(!existsSync(SLIPS))('argus preset on Stratosphere binetflow files', () => {
  const files = ['test11-portscan', 'test2-malicious', 'test3-mixed', 'test4-malicious', 'test5-mixed']

  it.each(files)('%s: records, non-IP records, packets and bytes as the file sums them', async (name) => {
    const file = `${SLIPS}/${name}.binetflow`
    const t = readDelimited(file, name === 'test5-mixed' ? '\t' : ',')
    const proto = column(t, 'Proto')
    const ip = t.rows.map((_r, i) => !NON_IP.has(proto[i]!))
    const pick = (name: string): number[] => column(t, name).map(num).filter((_v, i) => ip[i])
    const totPkts = pick('TotPkts')
    const totBytes = pick('TotBytes')
    const srcBytes = pick('SrcBytes')

    const r = await ingestFlowFile(store, file, {network: 'ctu'})
    expect(r.preset).toBe('argus')
    expect(r.container).toBe(name === 'test5-mixed' ? 'tsv' : 'csv')
    expect(r.records).toBe(t.rows.length)
    expect(r.nonIpRecords).toBe(ip.filter((x) => !x).length)
    expect(r.badRecords).toBe(0)
    expect(r.packets).toBe(sum(totPkts))
    expect(r.bytes).toBe(sum(totBytes))
    expect(await totals(store)).toEqual({flows: r.flows, packets: r.packets, bytes: r.bytes})
    if (t.header.includes('SrcPkts')) {
      // SrcBytes/SrcPkts src→dst, the rest of the totals dst→src
      const srcPkts = pick('SrcPkts')
      expect(r.estimatedPackets).toBe(false)
      expect(r.flows).toBe(sum(totPkts.map((tp, i) => flowsOf(srcPkts[i]!, srcBytes[i]!, tp - srcPkts[i]!, totBytes[i]! - srcBytes[i]!))))
    } else {
      // test4 has no SrcPkts: packets per direction are estimated, the totals stay exact
      expect(r.estimatedPackets).toBe(true)
      expect(r.flows).toBe(sum(totBytes.map((tb, i) => flowsOf(srcBytes[i]!, srcBytes[i]!, tb - srcBytes[i]!, tb - srcBytes[i]!))))
    }
  })

  it('test2: hex ports (0x0008) are read as numbers', async () => {
    await ingestFlowFile(store, `${SLIPS}/test2-malicious.binetflow`, {network: 'ctu'})
    const rows = await store.all<{n: bigint}>(
      `SELECT count(*) AS n FROM flows WHERE proto = 1 AND src_ip = '10.8.0.69' AND src_port = 8 AND dst_port = ${0x7208}`,
    )
    expect(Number(rows[0]?.n)).toBeGreaterThan(0)
  })

  it('test3: IPv6 records keep canonical text and the 128-bit number', async () => {
    const file = `${SLIPS}/test3-mixed.binetflow`
    const t = readDelimited(file, ',')
    const v6 = column(t, 'SrcAddr').filter((a) => a.includes(':')).length
    await ingestFlowFile(store, file, {network: 'ctu'})
    const rows = await store.all<{src_ip: string; src_addr: bigint}>(`SELECT src_ip, src_addr FROM flows WHERE family = 6`)
    expect(new Set(rows.map((r) => r.src_ip)).has('2001:718:2:1634:96de:80ff:fe7a:bdf0')).toBe(true)
    expect(rows.length).toBeGreaterThanOrEqual(v6)
    for (const r of rows) expect(r.src_addr).toBe(parseIp(r.src_ip)?.value)
  })

  it('test5: per-flow labels read back for every record', async () => {
    const file = `${SLIPS}/test5-mixed.binetflow`
    const t = readDelimited(file, '\t')
    const proto = column(t, 'Proto')
    const expected = new Map<string, number>()
    column(t, 'Label').forEach((label, i) => {
      if (NON_IP.has(proto[i]!) || label === '') return
      expected.set(label, (expected.get(label) ?? 0) + 1)
    })
    await ingestFlowFile(store, file, {network: 'ctu'})
    const got = await store.all<{label: string; records: bigint}>(
      `SELECT extra->>'Label' AS label, count(DISTINCT row_no) AS records FROM flows_with_extra WHERE extra->>'Label' IS NOT NULL GROUP BY 1`,
    )
    expect(new Map(got.map((g) => [g.label, Number(g.records)]))).toEqual(expected)
    expect(expected.get('flow=Malware-UDP-DNS')).toBe(197)
  })
})

describe.skipIf(!existsSync(ZEEK))('zeek preset on a labelled conn.log (CTU-SME-11)', () => {
  function readZeek(): {header: string[]; rows: string[][]} {
    const lines = readFileSync(ZEEK, 'utf8').split('\n')
    const header = (lines.find((l) => l.startsWith('#fields')) ?? '').split('\t').slice(1)
    return {header, rows: lines.filter((l) => l !== '' && !l.startsWith('#')).map((l) => l.split('\t'))}
  }

  it('orig and resp become two flows; totals are the ip_bytes and pkts sums; labels read back', async () => {
    const t = readZeek()
    const z = (name: string): number[] => column(t, name).map((v) => (v === '-' ? 0 : num(v)))
    const [op, ob, rp, rb] = [z('orig_pkts'), z('orig_ip_bytes'), z('resp_pkts'), z('resp_ip_bytes')]
    const r = await ingestFlowFile(store, ZEEK, {network: 'sme'})
    expect([r.preset, r.container, r.records, r.badRecords]).toEqual(['zeek', 'zeek', t.rows.length, 0])
    expect(r.packets).toBe(sum(op) + sum(rp))
    expect(r.bytes).toBe(sum(ob) + sum(rb))
    expect(r.flows).toBe(sum(op.map((_v, i) => flowsOf(op[i]!, ob[i]!, rp[i]!, rb[i]!))))
    expect(r.extraColumns).toEqual(expect.arrayContaining(['uid', 'history', 'conn_state', 'label', 'detailedlabel']))

    const expected = new Map<string, number>()
    for (const l of column(t, 'label')) expected.set(l, (expected.get(l) ?? 0) + 1)
    const got = await store.all<{label: string; records: bigint}>(
      `SELECT extra->>'label' AS label, count(DISTINCT row_no) AS records FROM flows_with_extra GROUP BY 1`,
    )
    expect(new Map(got.map((g) => [g.label, Number(g.records)]))).toEqual(expected)
    expect(expected.get('Malicious')).toBe(719)
  })

  it('history gives per-direction TCP flags; ICMP type/code become the NetFlow port convention', async () => {
    await ingestFlowFile(store, ZEEK, {network: 'sme'})
    // history "Sr": the originator's SYN, the responder's RST
    const rej = await store.all<{src_ip: string; tcp_flags: number}>(
      `SELECT src_ip, tcp_flags FROM flows_with_extra WHERE extra->>'uid' = 'C6SgKom3WB2KEL2ae' ORDER BY src_ip`,
    )
    expect(rej).toEqual([
      {src_ip: '192.168.1.107', tcp_flags: 0x02},
      {src_ip: '66.63.168.35', tcp_flags: 0x04},
    ])
    const icmp = await store.all<{src_port: number; dst_port: number}>(
      `SELECT DISTINCT src_port, dst_port FROM flows WHERE proto = 1 AND src_ip = '192.168.1.107' AND dst_ip = '192.168.1.132'`,
    )
    expect(icmp).toEqual([{src_port: 0, dst_port: 3 * 256 + 3}])
  })
})

const NFDUMP = existsSync(VERIFY) ? readdirSync(VERIFY).filter((f) => /^nfcapd-derived__.*\.flows\.csv$/.test(f)) : []

describe.skipIf(NFDUMP.length === 0)('nfdump preset on nfdump -o csv of the nfcapd files', () => {
  it.each(NFDUMP)('%s: records, packets and bytes equal nfdump -I', async (name) => {
    const file = `${VERIFY}/${name}`
    const info = Object.fromEntries(
      readFileSync(file.replace('.flows.csv', '.info.txt'), 'utf8')
        .split('\n')
        .map((l) => /^(\w+): (\d+)$/.exec(l.trim()))
        .filter((m) => m !== null)
        .map((m) => [m[1]!, Number(m[2])]),
    )
    const t = readDelimited(file, ',')
    t.rows = t.rows.filter((r) => r.length === t.header.length) // the Summary block at the end
    const [ip, ib, op, ob] = ['ipkt', 'ibyt', 'opkt', 'obyt'].map((c) => column(t, c).map(num)) as [number[], number[], number[], number[]]

    const r = await ingestFlowFile(store, file, {network: 'nf'})
    expect([r.preset, r.badRecords, r.nonIpRecords]).toEqual(['nfdump', 0, 0])
    expect(r.records).toBe(info.Flows)
    // nfdump's totals count in and out counters; out counters become the reverse flow
    expect(r.packets).toBe(info.Packets)
    expect(r.bytes).toBe(info.Bytes)
    expect(r.flows).toBe(sum(ip.map((_v, i) => flowsOf(ip[i]!, ib[i]!, op[i]!, ob[i]!))))
    expect(await totals(store)).toEqual({flows: r.flows, packets: r.packets, bytes: r.bytes})

    // addresses (IPv6 in the pmacct exports) and the exporter
    const v6 = column(t, 'sa').filter((a) => a.includes(':')).length
    const [fam] = await store.all<{v6: bigint; exporters: string[]}>(
      `SELECT count(*) FILTER (WHERE family = 6) AS v6, list(DISTINCT exporter) AS exporters FROM flows`,
    )
    expect(Number(fam?.v6)).toBeGreaterThanOrEqual(v6)
    expect(fam?.exporters.sort()).toEqual([...new Set(column(t, 'ra'))].sort())

    // nfdump's flag letters (CEUAPRSF, '.' for a clear bit) are the TCP flags
    const flg = column(t, 'flg')
    const i = flg.findIndex((f) => f === '...AP...')
    if (i >= 0) {
      const [row] = await store.all<{tcp_flags: number}>(
        `SELECT tcp_flags FROM flows WHERE src_ip = $1 AND dst_ip = $2 AND src_port = $3 AND dst_port = $4 LIMIT 1`,
        // canonical text: nfdump prints IPv4-compatible IPv6 as ::138.187.58.13, flowscope as ::8abb:3a0d
        [canonicalAddress(column(t, 'sa')[i]!)?.text, canonicalAddress(column(t, 'da')[i]!)?.text, Number(column(t, 'sp')[i]), Number(column(t, 'dp')[i])],
      )
      expect(row?.tcp_flags).toBe(0x18)
    }
  })
})
