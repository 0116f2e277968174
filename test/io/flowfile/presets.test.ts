/**
 * Flow-file ingest on small files written here in each schema (nProbe NF-* v2 and v3, CICFlowMeter
 * 2017 and 2018 headers, a `map`-only CSV with IPv6 in its compressed forms): counts and totals
 * against sums computed from the rows, labels read back, bad rows, rollback, re-ingest.
 */
import {gzipSync} from 'node:zlib'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {InputDataError, UsageError} from '../../../src/core/errors.js'
import {canonicalAddress} from '../../../src/io/flowfile/addresses.js'
import {FLOW_FILE_PRESETS} from '../../../src/io/flowfile/index.js'
import {ingestFlowFile} from '../../../src/io/ingest/index.js'
import {parseIp} from '../../../src/core/ip.js'
import {FlowStore} from '../../../src/io/store/store.js'
import {storeSnapshot, sum, tempDir, totals, writeTemp} from './helpers.js'

const NF_V2_HEADER =
  'IPV4_SRC_ADDR,L4_SRC_PORT,IPV4_DST_ADDR,L4_DST_PORT,PROTOCOL,L7_PROTO,IN_BYTES,IN_PKTS,OUT_BYTES,OUT_PKTS,TCP_FLAGS,CLIENT_TCP_FLAGS,SERVER_TCP_FLAGS,FLOW_DURATION_MILLISECONDS,DURATION_IN,DURATION_OUT,MIN_TTL,MAX_TTL,LONGEST_FLOW_PKT,SHORTEST_FLOW_PKT,MIN_IP_PKT_LEN,MAX_IP_PKT_LEN,SRC_TO_DST_SECOND_BYTES,DST_TO_SRC_SECOND_BYTES,RETRANSMITTED_IN_BYTES,RETRANSMITTED_IN_PKTS,RETRANSMITTED_OUT_BYTES,RETRANSMITTED_OUT_PKTS,SRC_TO_DST_AVG_THROUGHPUT,DST_TO_SRC_AVG_THROUGHPUT,NUM_PKTS_UP_TO_128_BYTES,NUM_PKTS_128_TO_256_BYTES,NUM_PKTS_256_TO_512_BYTES,NUM_PKTS_512_TO_1024_BYTES,NUM_PKTS_1024_TO_1514_BYTES,TCP_WIN_MAX_IN,TCP_WIN_MAX_OUT,ICMP_TYPE,ICMP_IPV4_TYPE,DNS_QUERY_ID,DNS_QUERY_TYPE,DNS_TTL_ANSWER,FTP_COMMAND_RET_CODE,Label,Attack'

interface NfRow {
  src: string
  sp: number
  dst: string
  dp: number
  proto: number
  inB: number
  inP: number
  outB: number
  outP: number
  flags: number
  cflags: number
  sflags: number
  durMs: number
  label: 0 | 1
  attack: string
}

/** Rows in the style of NF-UNSW-NB15-v2 (no flow times in v1/v2). */
const NF_ROWS: NfRow[] = [
  {src: '149.171.126.0', sp: 62073, dst: '59.166.0.5', dp: 56082, proto: 6, inB: 9672, inP: 122, outB: 416, outP: 11, flags: 25, cflags: 25, sflags: 17, durMs: 15, label: 0, attack: 'Benign'},
  {src: '59.166.0.2', sp: 51680, dst: '149.171.126.9', dp: 21, proto: 6, inB: 1526, inP: 24, outB: 2932, outP: 20, flags: 27, cflags: 27, sflags: 25, durMs: 1000, label: 1, attack: 'Exploits'},
  {src: '175.45.176.3', sp: 0, dst: '149.171.126.18', dp: 2048, proto: 1, inB: 1360, inP: 10, outB: 0, outP: 0, flags: 0, cflags: 0, sflags: 0, durMs: 0, label: 1, attack: 'Reconnaissance'},
  {src: '59.166.0.9', sp: 1043, dst: '149.171.126.7', dp: 53, proto: 17, inB: 130, inP: 2, outB: 162, outP: 2, flags: 0, cflags: 0, sflags: 0, durMs: 1, label: 0, attack: 'Benign'},
  {src: '175.45.176.0', sp: 47439, dst: '149.171.126.10', dp: 80, proto: 6, inB: 0, inP: 0, outB: 0, outP: 0, flags: 2, cflags: 2, sflags: 0, durMs: 0, label: 1, attack: 'DoS'},
]

function nfLine(r: NfRow): string {
  const filler = new Array<string>(29).fill('0')
  return [r.src, r.sp, r.dst, r.dp, r.proto, '7.0', r.inB, r.inP, r.outB, r.outP, r.flags, r.cflags, r.sflags, r.durMs, ...filler, r.label, r.attack].join(',')
}

const nfCsv = (rows: string[]): string => [NF_V2_HEADER, ...rows].join('\n') + '\n'

/** flows each record gives: forward unless all its traffic is reverse, reverse when it has any */
const expectedFlows = (fwd: [number, number], rev: [number, number]): number =>
  (fwd[0] > 0 || fwd[1] > 0 || !(rev[0] > 0 || rev[1] > 0) ? 1 : 0) + (rev[0] > 0 || rev[1] > 0 ? 1 : 0)

let dir: string
let store: FlowStore

beforeEach(async () => {
  dir = tempDir('flowfile-')
  store = await FlowStore.open(':memory:')
})

afterEach(async () => {
  await store.close()
})

describe('nprobe preset (NF-* NIDS data sets)', () => {
  it('splits bidirectional records, uses the synthetic clock, keeps labels', async () => {
    const file = writeTemp(dir, 'NF-UNSW-NB15-v2.csv', nfCsv(NF_ROWS.map(nfLine)))
    const r = await ingestFlowFile(store, file, {network: 'uq'})
    expect(r.preset).toBe('nprobe')
    expect(r.syntheticTime).toBe(true)
    expect(r.records).toBe(NF_ROWS.length)
    expect(r.flows).toBe(sum(NF_ROWS.map((x) => expectedFlows([x.inP, x.inB], [x.outP, x.outB]))))
    expect(r.packets).toBe(sum(NF_ROWS.map((x) => x.inP + x.outP)))
    expect(r.bytes).toBe(sum(NF_ROWS.map((x) => x.inB + x.outB)))
    expect(await totals(store)).toEqual({flows: r.flows, packets: r.packets, bytes: r.bytes})
    expect(r.extraColumns).toContain('Attack')
    expect(r.extraColumns).not.toContain('IN_BYTES')

    // in = src→dst with CLIENT_TCP_FLAGS, out = dst→src with SERVER_TCP_FLAGS, both with the record's times
    const second = await store.all<{src_ip: string; dst_ip: string; src_port: number; packets: bigint; tcp_flags: number; s: string; e: string}>(
      `SELECT src_ip, dst_ip, src_port, packets, tcp_flags, strftime(ts_start, '%Y-%m-%dT%H:%M:%S.%f') AS s,
              strftime(ts_end, '%Y-%m-%dT%H:%M:%S.%f') AS e
         FROM flows WHERE '59.166.0.2' IN (src_ip, dst_ip) ORDER BY src_ip DESC`,
    )
    expect(second).toEqual([
      {src_ip: '59.166.0.2', dst_ip: '149.171.126.9', src_port: 51680, packets: 24n, tcp_flags: 27, s: '1970-01-01T00:00:00.000001', e: '1970-01-01T00:00:01.000001'},
      {src_ip: '149.171.126.9', dst_ip: '59.166.0.2', src_port: 21, packets: 20n, tcp_flags: 25, s: '1970-01-01T00:00:00.000001', e: '1970-01-01T00:00:01.000001'},
    ])

    // labels: every flow of a record finds the record's extra columns
    const labels = await store.all<{attack: string; flows: bigint; records: bigint}>(
      `SELECT extra->>'Attack' AS attack, count(*) AS flows, count(DISTINCT row_no) AS records
         FROM flows_with_extra GROUP BY 1 ORDER BY 1`,
    )
    const expected = new Map<string, {flows: number; records: number}>()
    for (const x of NF_ROWS) {
      const e = expected.get(x.attack) ?? {flows: 0, records: 0}
      e.flows += expectedFlows([x.inP, x.inB], [x.outP, x.outB])
      e.records++
      expected.set(x.attack, e)
    }
    expect(labels.map((l) => [l.attack, Number(l.flows), Number(l.records)])).toEqual(
      [...expected.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([a, e]) => [a, e.flows, e.records]),
    )
  })

  it('reads Parquet (NF v3 columns with flow times) and names the row of a bad record', async () => {
    const file = `${dir}/NF-v3.parquet`
    await store.run(`COPY (SELECT * FROM (VALUES
        (1424242192000::BIGINT, 1424242193100::BIGINT, '59.166.0.2', 51680, '149.171.126.9', 21, 6, 1526::BIGINT, 24::BIGINT, 2932::BIGINT, 20::BIGINT, 27, 1100, 1, 'Exploits'),
        (1424242192500::BIGINT, 1424242192500::BIGINT, '175.45.176.3', 0, '149.171.126.18', 2048, 1, 1360::BIGINT, 10::BIGINT, 0::BIGINT, 0::BIGINT, 0, 0, 1, 'Reconnaissance'))
      t(FLOW_START_MILLISECONDS, FLOW_END_MILLISECONDS, IPV4_SRC_ADDR, L4_SRC_PORT, IPV4_DST_ADDR, L4_DST_PORT, PROTOCOL,
        IN_BYTES, IN_PKTS, OUT_BYTES, OUT_PKTS, TCP_FLAGS, FLOW_DURATION_MILLISECONDS, Label, Attack)) TO '${file}' (FORMAT PARQUET)`)
    const r = await ingestFlowFile(store, file, {network: 'uq'})
    expect([r.container, r.preset, r.syntheticTime, r.flows, r.packets, r.bytes]).toEqual(['parquet', 'nprobe', false, 3, 54, 5818])
    const [f] = await store.all<{s: string; e: string; flags: number}>(
      `SELECT strftime(ts_start, '%Y-%m-%dT%H:%M:%S.%g') AS s, strftime(ts_end, '%Y-%m-%dT%H:%M:%S.%g') AS e, tcp_flags AS flags
         FROM flows WHERE src_ip = '149.171.126.9'`,
    )
    expect(f).toEqual({s: '2015-02-18T06:49:52.000', e: '2015-02-18T06:49:53.100', flags: 27})

    const bad = `${dir}/NF-v3-bad.parquet`
    await store.run(`COPY (SELECT * REPLACE (CASE WHEN IPV4_SRC_ADDR = '175.45.176.3' THEN '300.1.1.1' ELSE IPV4_SRC_ADDR END AS IPV4_SRC_ADDR)
      FROM read_parquet('${file}')) TO '${bad}' (FORMAT PARQUET)`)
    await expect(ingestFlowFile(store, bad, {network: 'uq'})).rejects.toThrow(`${bad}: row 2: unparsable source address "300.1.1.1" (column IPV4_SRC_ADDR)`)
  })

  it('ingests a header-only file as an empty source', async () => {
    const r = await ingestFlowFile(store, writeTemp(dir, 'empty.csv', nfCsv([])), {network: 'uq'})
    expect([r.status, r.records, r.flows, r.tsFirst]).toEqual(['ingested', 0, 0, null])
  })

  it('reads gzip-compressed CSV', async () => {
    const file = writeTemp(dir, 'nf.csv.gz', gzipSync(nfCsv(NF_ROWS.map(nfLine))))
    const r = await ingestFlowFile(store, file, {network: 'uq'})
    expect([r.records, r.packets]).toEqual([NF_ROWS.length, sum(NF_ROWS.map((x) => x.inP + x.outP))])
  })
})

describe('bad rows', () => {
  const lines = (): string[] => {
    const l = NF_ROWS.map(nfLine)
    l[2] = nfLine({...NF_ROWS[2]!, src: '10.0.0.999'}) // file line 4
    l[4] = nfLine({...NF_ROWS[4]!, inP: -3}) // file line 6
    return l
  }

  it('stop the file with the file and line named, leaving the store as it was', async () => {
    const good = writeTemp(dir, 'good.csv', nfCsv(NF_ROWS.map(nfLine)))
    await ingestFlowFile(store, good, {network: 'uq'})
    const before = await storeSnapshot(store)
    const file = writeTemp(dir, 'bad.csv', nfCsv(lines()))
    const error = await ingestFlowFile(store, file, {network: 'uq'}).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(InputDataError)
    expect((error as InputDataError).exitCode).toBe(3)
    expect((error as Error).message).toBe(`${file}: line 4: unparsable source address "10.0.0.999" (column IPV4_SRC_ADDR)`)
    expect((error as InputDataError).hint).toMatch(/2 bad rows/)
    expect(await storeSnapshot(store)).toEqual(before)
  })

  it('are counted and skipped with skipBad', async () => {
    const file = writeTemp(dir, 'bad.csv', nfCsv(lines()))
    const r = await ingestFlowFile(store, file, {network: 'uq', skipBad: true})
    expect(r.badRecords).toBe(2)
    expect(r.records).toBe(NF_ROWS.length)
    expect(r.problems).toEqual([
      {row: 3, line: 4, reason: 'unparsable source address "10.0.0.999" (column IPV4_SRC_ADDR)'},
      {row: 5, line: 6, reason: 'negative packet count "-3" (column IN_PKTS)'},
    ])
    const good = NF_ROWS.filter((_x, i) => i !== 2 && i !== 4)
    expect(await totals(store)).toEqual({
      flows: sum(good.map((x) => expectedFlows([x.inP, x.inB], [x.outP, x.outB]))),
      packets: sum(good.map((x) => x.inP + x.outP)),
      bytes: sum(good.map((x) => x.inB + x.outB)),
    })
    const [src] = await store.all<{n: bigint}>('SELECT skipped AS n FROM sources')
    expect(src?.n).toBe(2n)
  })

  it('an unknown protocol name is a bad row; Argus ARP and management records are non-IP, not bad', async () => {
    const file = writeTemp(
      dir,
      'argus.binetflow',
      [
        'StartTime,Dur,Proto,SrcAddr,Sport,Dir,DstAddr,Dport,State,sTos,dTos,TotPkts,TotBytes,SrcBytes,SrcPkts,Label',
        '2019/04/04 16:24:47.672448,1.5,tcp,10.8.0.69,56101,   ->,14.1.11.113,999,S0,0,0,3,180,120,2,',
        '2019/04/04 16:24:48.000000,0.1,xyzzy,10.8.0.69,1,   ->,14.1.11.113,2,INT,0,0,1,60,60,1,',
        '2019/04/04 16:24:49.000000,2.0,arp,10.8.0.69,,  who,10.8.0.1,,CON,,,2,120,60,1,',
        '2019/04/04 16:24:50.000000,0.0,man,0,0,,0,0,STA,,,0,0,0,0,',
      ].join('\n'),
    )
    await expect(ingestFlowFile(store, file, {network: 'ctu'})).rejects.toThrow(`${file}: line 3: unknown protocol "xyzzy" (column Proto)`)
    const r = await ingestFlowFile(store, file, {network: 'ctu', skipBad: true})
    expect([r.records, r.badRecords, r.nonIpRecords, r.nonIpPackets, r.flows, r.packets, r.bytes]).toEqual([4, 1, 2, 2, 2, 3, 180])
  })

  it('a row DuckDB cannot split is named by its line too', async () => {
    const l = NF_ROWS.map(nfLine)
    l.splice(1, 0, '59.166.0.2,51680,149.171.126.9') // line 3: too few columns
    const file = writeTemp(dir, 'short.csv', nfCsv(l))
    await expect(ingestFlowFile(store, file, {network: 'uq'})).rejects.toThrow(new RegExp(`^${file}: line 3: .*[Cc]olumns`))
    const r = await ingestFlowFile(store, file, {network: 'uq', skipBad: true})
    expect([r.badRecords, r.records, r.problems[0]?.line]).toEqual([1, NF_ROWS.length + 1, 3])
  })

  it('a bad row after an empty line and a rejected line is still named by its physical line', async () => {
    const l = NF_ROWS.map(nfLine)
    l.splice(1, 0, '', 'x,y') // lines 3 (empty, skipped) and 4 (rejected)
    l[5] = nfLine({...NF_ROWS[4]!, dst: 'not-an-address'}) // line 7
    const file = writeTemp(dir, 'gaps.csv', nfCsv(l))
    const r = await ingestFlowFile(store, file, {network: 'uq', skipBad: true})
    expect(r.problems.map((p) => [p.line, p.reason.slice(0, 30)])).toEqual([
      [4, expect.any(String) as unknown as string],
      [7, 'unparsable destination address'],
    ])
  })
})

describe('re-ingest', () => {
  it('of the same content into the same network is a no-op; another network ingests it', async () => {
    const file = writeTemp(dir, 'nf.csv', nfCsv(NF_ROWS.map(nfLine)))
    const first = await ingestFlowFile(store, file, {network: 'uq'})
    const before = await storeSnapshot(store)
    const again = await ingestFlowFile(store, file, {network: 'uq'})
    expect(again.status).toBe('unchanged')
    expect([again.sourceId, again.flows, again.packets]).toEqual([first.sourceId, first.flows, first.packets])
    expect(await storeSnapshot(store)).toEqual(before)
    const other = await ingestFlowFile(store, file, {network: 'other'})
    expect(other.status).toBe('ingested')
    expect(await totals(store, `network = 'other'`)).toEqual({flows: first.flows, packets: first.packets, bytes: first.bytes})
  })
})

describe('cicflowmeter preset', () => {
  // CIC-IDS2017 GeneratedLabelledFlows: leading spaces, a duplicated column, d/m/yyyy h:mm times
  const CIC2017 = [
    'Flow ID, Source IP, Source Port, Destination IP, Destination Port, Protocol, Timestamp, Flow Duration, Total Fwd Packets, Total Backward Packets,Total Length of Fwd Packets, Total Length of Bwd Packets, Flow Bytes/s, Flow Packets/s,FIN Flag Count, SYN Flag Count, RST Flag Count, PSH Flag Count, ACK Flag Count, URG Flag Count, CWE Flag Count, ECE Flag Count, Fwd Header Length, Fwd Header Length, Label',
    '192.168.10.5-104.16.207.165-54865-443-6,104.16.207.165,443,192.168.10.5,54865,6,7/7/2017 3:30,3,2,0,12,0,4000000,666666.6667,0,0,0,0,1,0,0,0,40,40,BENIGN',
    '172.16.0.1-192.168.10.50-33058-80-6,172.16.0.1,33058,192.168.10.50,80,6,7/7/2017 3:56,1511192,3,6,26,11607,7697.9,5.95,0,0,0,1,1,0,0,0,72,72,DDoS',
    '192.168.10.3-192.168.10.1-53-54383-17,192.168.10.1,54383,192.168.10.3,53,17,3/7/2017 8:55,30946,2,2,78,210,Infinity,129.2,0,0,0,0,0,0,0,0,40,40,BENIGN',
  ]
  // CSE-CIC-IDS2018 (CICFlowMeter-V3): abbreviated names, dd/mm/yyyy hh:mm:ss
  const CIC2018 = [
    'Flow ID,Src IP,Src Port,Dst IP,Dst Port,Protocol,Timestamp,Flow Duration,Tot Fwd Pkts,Tot Bwd Pkts,TotLen Fwd Pkts,TotLen Bwd Pkts,FIN Flag Cnt,SYN Flag Cnt,RST Flag Cnt,PSH Flag Cnt,ACK Flag Cnt,URG Flag Cnt,CWE Flag Count,ECE Flag Cnt,Label',
    '172.31.69.25-18.219.211.138-80-53282-6,18.219.211.138,53282,172.31.69.25,80,6,14/02/2018 08:31:01,37953,5,3,135,127,0,1,0,1,1,0,0,0,DoS attacks-Hulk',
    '172.31.64.92-172.31.0.2-51213-53-17,172.31.64.92,51213,172.31.0.2,53,17,14/02/2018 08:31:02,1053,1,1,47,111,0,0,0,0,0,0,0,0,Benign',
  ]

  it('reads CIC-IDS2017 headers with leading spaces, day-first times and µs durations', async () => {
    const file = writeTemp(dir, 'Friday-WorkingHours-Afternoon-DDos.pcap_ISCX.csv', CIC2017.join('\r\n') + '\r\n')
    const r = await ingestFlowFile(store, file, {network: 'cic'})
    expect(r.preset).toBe('cicflowmeter')
    const rows = CIC2017.slice(1).map((l) => l.split(','))
    const n = (row: string[], i: number): number => Number(row[i])
    expect(r.records).toBe(3)
    expect(r.packets).toBe(sum(rows.map((x) => n(x, 8) + n(x, 9))))
    expect(r.bytes).toBe(sum(rows.map((x) => n(x, 10) + n(x, 11))))
    expect(r.flows).toBe(sum(rows.map((x) => expectedFlows([n(x, 8), n(x, 10)], [n(x, 9), n(x, 11)]))))
    expect(r.extraColumns).toEqual([
      'Flow ID',
      'Flow Bytes/s',
      'Flow Packets/s',
      'FIN Flag Count',
      'SYN Flag Count',
      'RST Flag Count',
      'PSH Flag Count',
      'ACK Flag Count',
      'URG Flag Count',
      'CWE Flag Count',
      'ECE Flag Count',
      'Fwd Header Length',
      'Fwd Header Length.1',
      'Label',
    ])
    const flows = await store.all<{src_ip: string; s: string; e: string; flags: number; label: string; fb: string}>(
      `SELECT src_ip, strftime(ts_start, '%Y-%m-%d %H:%M:%S.%f') AS s, strftime(ts_end, '%Y-%m-%d %H:%M:%S.%f') AS e, tcp_flags AS flags,
              extra->>'Label' AS label, extra->>'Flow Bytes/s' AS fb
         FROM flows_with_extra ORDER BY ts_start, src_ip`,
    )
    expect(flows).toEqual([
      {src_ip: '192.168.10.1', s: '2017-07-03 08:55:00.000000', e: '2017-07-03 08:55:00.030946', flags: 0, label: 'BENIGN', fb: 'Infinity'},
      {src_ip: '192.168.10.3', s: '2017-07-03 08:55:00.000000', e: '2017-07-03 08:55:00.030946', flags: 0, label: 'BENIGN', fb: 'Infinity'},
      {src_ip: '104.16.207.165', s: '2017-07-07 03:30:00.000000', e: '2017-07-07 03:30:00.000003', flags: 0x10, label: 'BENIGN', fb: '4000000'},
      {src_ip: '172.16.0.1', s: '2017-07-07 03:56:00.000000', e: '2017-07-07 03:56:01.511192', flags: 0x18, label: 'DDoS', fb: '7697.9'},
      {src_ip: '192.168.10.50', s: '2017-07-07 03:56:00.000000', e: '2017-07-07 03:56:01.511192', flags: 0x18, label: 'DDoS', fb: '7697.9'},
    ])
  })

  it('reads CSE-CIC-IDS2018 (CICFlowMeter-V3) headers', async () => {
    const file = writeTemp(dir, 'Wednesday-14-02-2018.csv', CIC2018.join('\n'))
    const r = await ingestFlowFile(store, file, {network: 'cic'})
    expect([r.preset, r.records, r.flows, r.packets, r.bytes]).toEqual(['cicflowmeter', 2, 4, 10, 420])
    const [hulk] = await store.all<{s: string; flags: number}>(
      `SELECT strftime(ts_start, '%Y-%m-%d %H:%M:%S') AS s, tcp_flags AS flags FROM flows_with_extra WHERE extra->>'Label' = 'DoS attacks-Hulk' AND src_port = 53282`,
    )
    expect(hulk).toEqual({s: '2018-02-14 08:31:01', flags: 0x1a})
  })
})

describe('map without a preset', () => {
  const CSV = [
    'src,dst,sport,dport,proto,first,last,pkts,octets,app',
    '2001:DB8:0:0::1,2001:db8::2,40000,443,tcp,1700000000123,1700000001123,10,5000,https',
    '::ffff:1.2.3.4,5.6.7.8,5353,53,17,1700000002000,1700000002000,1,80,dns',
    'fe80::1%eth0,ff02::1,0,34560,58,1700000003000,1700000003000,1,72,',
    '2001:db8:0:0:1:0:0:1,2001:0db8::0001:0:0:1,1,2,6,1700000004000,1700000004500,3,180,x',
  ].join('\n')
  const map = {src_ip: 'src', dst_ip: 'dst', src_port: 'sport', dst_port: 'dport', proto: 'proto', ts_start: 'first:ms', ts_end: 'last:ms', packets: 'pkts', bytes: 'octets'}

  it('parses IPv6 in its compressed forms into canonical text and the 128-bit number', async () => {
    const file = writeTemp(dir, 'custom.csv', CSV)
    const r = await ingestFlowFile(store, file, {network: 'v6', map})
    expect([r.preset, r.flows, r.packets, r.bytes, r.extraColumns]).toEqual(['custom', 4, 15, 5332, ['app']])
    const rows = await store.all<{src_ip: string; dst_ip: string; family: number; src_addr: bigint; dst_addr: bigint; proto: number}>(
      'SELECT src_ip, dst_ip, family, src_addr, dst_addr, proto FROM flows ORDER BY ts_start',
    )
    expect(rows.map((x) => [x.src_ip, x.dst_ip, x.family, x.proto])).toEqual([
      ['2001:db8::1', '2001:db8::2', 6, 6],
      ['1.2.3.4', '5.6.7.8', 4, 17],
      ['fe80::1', 'ff02::1', 6, 58],
      ['2001:db8::1:0:0:1', '2001:db8::1:0:0:1', 6, 6],
    ])
    for (const x of rows) {
      expect(x.src_addr).toBe(parseIp(x.src_ip)?.value)
      expect(x.dst_addr).toBe(parseIp(x.dst_ip)?.value)
    }
    expect(rows[1]?.src_addr).toBe(0xffff_0102_0304n)
  })

  it('refuses unknown fields, missing columns and wrong units', async () => {
    const file = writeTemp(dir, 'custom.csv', CSV)
    await expect(ingestFlowFile(store, file, {network: 'v6', map: {...map, source: 'src'}})).rejects.toThrow(UsageError)
    await expect(ingestFlowFile(store, file, {network: 'v6', map: {...map, bytes: 'nope'}})).rejects.toThrow(/no column "nope"/)
    await expect(ingestFlowFile(store, file, {network: 'v6', map: {...map, ts_start: 'first:hours'}})).rejects.toThrow(/unit "hours"/)
    await expect(ingestFlowFile(store, file, {network: 'v6'})).rejects.toThrow(InputDataError)
    await expect(ingestFlowFile(store, file, {network: 'v6'})).rejects.toThrow(/custom.csv: line 1 \(header\): no preset matches/)
    await expect(ingestFlowFile(store, file, {network: 'v6', preset: 'nfdump'})).rejects.toThrow(UsageError)
  })

  it('canonicalAddress agrees with parseIp and RFC 5952', () => {
    expect(canonicalAddress('2001:DB8:0:0:0:0:2:1')?.text).toBe('2001:db8::2:1')
    expect(canonicalAddress('2001:db8:0:1:1:1:1:1')?.text).toBe('2001:db8:0:1:1:1:1:1')
    expect(canonicalAddress('2001:0:0:1:0:0:0:1')?.text).toBe('2001:0:0:1::1')
    expect(canonicalAddress('::')?.text).toBe('::')
    expect(canonicalAddress('::ffff:10.0.0.1')).toEqual({family: 4, text: '10.0.0.1', value: 0xffff_0a00_0001n})
    expect(canonicalAddress('1.2.3')).toBeUndefined()
    expect(FLOW_FILE_PRESETS).toEqual(['nprobe', 'cicflowmeter', 'argus', 'nfdump', 'zeek', 'flowscope'])
  })
})
