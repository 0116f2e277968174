/**
 * The flow evidence behind candidate incidents, read from `flows` in one pass: for each (network,
 * entity, span), what the entity sent and received in the span (records, packets and bytes as sampled
 * and as extrapolated, the TCP flag, UDP and ICMP mix, ports) and its largest peers. The rules that read
 * it are src/infer/incident-rules.ts; this module only counts.
 *
 * A record belongs to a span when it starts in it (as the features attribute flows to windows).
 * Outbound records are those the entity sent (it is `src_ip`), inbound those it received.
 */
import {timestampUs} from '../../core/index.js'
import type {FlowStore} from './store.js'

/** How many of an entity's largest peers (by extrapolated packets) the evidence keeps: the counterparts' sample. */
export const EVIDENCE_PEERS = 10

/** A probe, for vertical scans: a TCP connection attempt (SYN without ACK) or a UDP record, to a service port (< 32,768). */
const ATTEMPT_SQL = 'dport < 32768 AND (proto = 17 OR (proto = 6 AND fl & 2 <> 0 AND fl & 16 = 0))'

/** How many of the largest ports (by extrapolated packets) each direction keeps. */
const EVIDENCE_PORTS = 5

/** One direction of an entity's traffic in a span. Counts are of records as stored (sampled). */
export interface DirectionEvidence {
  records: number
  /** packets and bytes as stored (the sample), and extrapolated (Σ · sampling_rate) */
  packets: number
  bytes: number
  estPackets: number
  estBytes: number
  tcpRecords: number
  /** TCP records with SYN and without ACK: connection attempts (scans, SYN floods) */
  synOnlyRecords: number
  /** TCP records with SYN and ACK: answers to connection attempts (reflection when unasked) */
  synAckRecords: number
  /** SYN-ACK records of at most 6 packets that carried no data (no PSH): answers and their retransmissions only */
  bareSynAckRecords: number
  udpRecords: number
  /** extrapolated packets of the UDP records */
  udpEstPackets: number
  /** UDP records of at most 2 packets: probes (a scan's), or one query and its retry */
  udpProbeRecords: number
  icmpRecords: number
  /** TCP records with SYN of at most 16 packets: short connections (brute force, probes) */
  shortConnRecords: number
  /** sampled packets of UDP records to port 53, and of those over 128 bytes per packet (long queries) */
  dnsPackets: number
  dnsLongPackets: number
  /** distinct peers, and distinct destination ports */
  peers: number
  dstPorts: number
  /** the most distinct destination ports below 32,768 of connection attempts (TCP SYN without ACK) and UDP
   * records with one peer: a vertical scan's probes, not a server's answers to a client's ports */
  maxPortsOnePeer: number
  /** the largest (peer, destination port) pair by short connections (TCP with SYN, ≤ 16 packets), and its count */
  topPairPeer: string | null
  topPairPort: number
  topPairShortConns: number
  /** ports by extrapolated packets, largest first (at most EVIDENCE_PORTS): destination ports, and UDP source ports */
  dstPortsTop: PortCount[]
  udpSrcPortsTop: PortCount[]
  /** the destination port of the most records (lowest on ties), null with none */
  topDstPortByRecords: PortCount | null
}

export interface PortCount {
  port: number
  records: number
  estPackets: number
}

/** One peer of the entity in the span, both directions. */
export interface PeerEvidence {
  address: string
  recordsOut: number
  recordsIn: number
  estPackets: number
  estBytes: number
  /** extrapolated bytes the entity sent to it */
  estBytesOut: number
}

export interface EntityEvidence {
  /** the largest sampling rate N of its records (1 = unsampled) */
  samplingRate: number
  /** the first record start and the last record end of the entity in the span, µs; null with no records */
  firstRecordUs: number | null
  lastRecordUs: number | null
  out: DirectionEvidence
  in: DirectionEvidence
  /** distinct peers (both directions); of those, the ones that sent it exactly one record, that it sent
   * exactly one record, and that sent it only connection attempts (TCP SYN without ACK: no handshake) */
  peerCount: number
  peersOnceIn: number
  peersOnceOut: number
  peersSynOnly: number
  /** the largest EVIDENCE_PEERS peers by extrapolated packets */
  peers: PeerEvidence[]
  /** the two peers of the most records (both directions; lowest address on ties): the only ones that can hold half of them */
  topPeersByRecords: {address: string; records: number}[]
  /** the most extrapolated bytes the entity sent to one peer */
  maxBytesOutOnePeer: number
}

/** A span to gather evidence for; times µs, [lo, hi). */
export interface EvidenceSpan {
  key: string
  network: string
  entity: string
  lo: number
  hi: number
}

/** Reads the evidence of every span in one pass over `flows` (spans with no records get empty evidence). */
export async function readIncidentEvidence(store: FlowStore, spans: readonly EvidenceSpan[]): Promise<Map<string, EntityEvidence>> {
  const out = new Map<string, EntityEvidence>()
  // the spans by their index: an integer key groups faster than the caller's string
  const byIndex: EntityEvidence[] = spans.map(() => emptyEvidence())
  spans.forEach((s, i) => out.set(s.key, byIndex[i]!))
  if (spans.length === 0) return out
  await store.run('CREATE TEMP TABLE IF NOT EXISTS evidence_spans_in (k INTEGER, network VARCHAR, entity VARCHAR, lo TIMESTAMP, hi TIMESTAMP)')
  await store.run('DELETE FROM evidence_spans_in')
  const a = await store.connection.createAppender('evidence_spans_in', null, 'temp')
  try {
    spans.forEach((s, i) => {
      a.appendInteger(i)
      a.appendVarchar(s.network)
      a.appendVarchar(s.entity)
      a.appendTimestamp(timestampUs(s.lo))
      a.appendTimestamp(timestampUs(s.hi))
      a.endRow()
    })
  } finally {
    a.closeSync()
  }
  // every record of each span's entity, as the entity sees it (out: it sent it; the peer is the other end)
  await store.run(`CREATE OR REPLACE TEMP TABLE evidence_edges AS
    SELECT s.k, true AS o, f.dst_ip AS peer, f.src_port AS sport, f.dst_port AS dport, f.proto, f.tcp_flags AS fl,
           f.packets, f.bytes, f.sampling_rate AS n, f.ts_start AS t0, f.ts_end AS t1
      FROM flows f JOIN evidence_spans_in s ON f.network = s.network AND f.src_ip = s.entity AND f.ts_start >= s.lo AND f.ts_start < s.hi
    UNION ALL
    SELECT s.k, false, f.src_ip, f.src_port, f.dst_port, f.proto, f.tcp_flags, f.packets, f.bytes, f.sampling_rate, f.ts_start, f.ts_end
      FROM flows f JOIN evidence_spans_in s ON f.network = s.network AND f.dst_ip = s.entity AND f.ts_start >= s.lo AND f.ts_start < s.hi`)
  // per (span, peer), both directions: what every peer-level figure is built from, once
  await store.run(`CREATE OR REPLACE TEMP TABLE evidence_peers AS
    SELECT k, peer, count(*) FILTER (o) AS rec_out, count(*) FILTER (NOT o) AS rec_in,
           count(*) FILTER (NOT o AND proto = 6 AND fl & 2 <> 0 AND fl & 16 = 0) AS syn_in,
           sum(packets * n) AS est_packets, sum(bytes * n) AS est_bytes, coalesce(sum(bytes * n) FILTER (o), 0) AS est_bytes_out,
           count(DISTINCT dport) FILTER (o AND ${ATTEMPT_SQL}) AS ports_out, count(DISTINCT dport) FILTER (NOT o AND ${ATTEMPT_SQL}) AS ports_in
      FROM evidence_edges GROUP BY k, peer`)
  const dir = (k: number, o: boolean): DirectionEvidence | undefined => byIndex[k]?.[o ? 'out' : 'in']
  try {
    const dirs = await rowsAsJson<Record<string, unknown> & {k: number; o: boolean}>(
      store,
      `SELECT k, o, count(*) AS records, sum(packets) AS packets, sum(bytes) AS bytes,
              sum(packets * n) AS est_packets, sum(bytes * n) AS est_bytes, max(n) AS rate,
              count(*) FILTER (proto = 6) AS tcp,
              count(*) FILTER (proto = 6 AND fl & 2 <> 0 AND fl & 16 = 0) AS syn_only,
              count(*) FILTER (proto = 6 AND fl & 18 = 18) AS syn_ack,
              count(*) FILTER (proto = 6 AND fl & 18 = 18 AND fl & 8 = 0 AND packets <= 6) AS bare_syn_ack,
              count(*) FILTER (proto = 17) AS udp, coalesce(sum(packets * n) FILTER (proto = 17), 0) AS udp_est_packets,
              count(*) FILTER (proto = 17 AND packets <= 2) AS udp_probes,
              count(*) FILTER (proto IN (1, 58)) AS icmp,
              count(*) FILTER (proto = 6 AND fl & 2 <> 0 AND packets <= 16) AS short_conn,
              coalesce(sum(packets) FILTER (proto = 17 AND dport = 53), 0) AS dns,
              coalesce(sum(packets) FILTER (proto = 17 AND dport = 53 AND bytes > 128 * packets), 0) AS dns_long,
              epoch_us(min(t0)) AS first_us, epoch_us(max(t1)) AS last_us
         FROM evidence_edges GROUP BY k, o`,
    )
    for (const r of dirs) {
      const e = byIndex[r.k]
      if (e === undefined) continue
      const d = e[r.o ? 'out' : 'in']
      d.records = num(r.records)
      d.packets = num(r.packets)
      d.bytes = num(r.bytes)
      d.estPackets = num(r.est_packets)
      d.estBytes = num(r.est_bytes)
      d.tcpRecords = num(r.tcp)
      d.synOnlyRecords = num(r.syn_only)
      d.synAckRecords = num(r.syn_ack)
      d.bareSynAckRecords = num(r.bare_syn_ack)
      d.udpRecords = num(r.udp)
      d.udpEstPackets = num(r.udp_est_packets)
      d.udpProbeRecords = num(r.udp_probes)
      d.icmpRecords = num(r.icmp)
      d.shortConnRecords = num(r.short_conn)
      d.dnsPackets = num(r.dns)
      d.dnsLongPackets = num(r.dns_long)
      e.samplingRate = Math.max(e.samplingRate, num(r.rate))
      const first = num(r.first_us)
      const last = num(r.last_us)
      e.firstRecordUs = e.firstRecordUs === null ? first : Math.min(e.firstRecordUs, first)
      e.lastRecordUs = e.lastRecordUs === null ? last : Math.max(e.lastRecordUs, last)
    }
    // the (peer, port) pair of the most short connections (TCP with SYN, at most 16 packets)
    for (const r of await rowsAsJson<{k: number; o: boolean; peer: string; dport: number; c: bigint}>(
      store,
      `SELECT k, o, peer, dport, count(*) AS c FROM evidence_edges WHERE proto = 6 AND fl & 2 <> 0 AND packets <= 16 GROUP BY k, o, peer, dport
       QUALIFY row_number() OVER (PARTITION BY k, o ORDER BY c DESC, peer, dport) = 1`,
    )) {
      const d = dir(r.k, r.o)
      if (d === undefined) continue
      d.topPairPeer = r.peer
      d.topPairPort = r.dport
      d.topPairShortConns = num(r.c)
    }
    const ports = await rowsAsJson<{k: number; o: boolean; side: 'dst' | 'udp_src'; port: number; records: bigint; est_packets: bigint | number; by_records: bigint; ports: bigint}>(
      store,
      `WITH c AS (
         SELECT k, o, 'dst' AS side, dport AS port, count(*) AS records, sum(packets * n) AS est_packets FROM evidence_edges GROUP BY ALL
         UNION ALL
         SELECT k, o, 'udp_src', sport, count(*), sum(packets * n) FROM evidence_edges WHERE proto = 17 GROUP BY ALL)
       SELECT *, row_number() OVER (PARTITION BY k, o, side ORDER BY records DESC, port) AS by_records, count(*) OVER (PARTITION BY k, o, side) AS ports FROM c
       QUALIFY row_number() OVER (PARTITION BY k, o, side ORDER BY est_packets DESC, port) <= ${EVIDENCE_PORTS} OR by_records = 1
       ORDER BY k, o, side, est_packets DESC, port`,
    )
    for (const r of ports) {
      const d = dir(r.k, r.o)
      if (d === undefined) continue
      const p = {port: r.port, records: num(r.records), estPackets: num(r.est_packets)}
      if (r.side === 'dst') {
        d.dstPorts = num(r.ports)
        if (Number(r.by_records) === 1) d.topDstPortByRecords = p
      }
      const list = r.side === 'dst' ? d.dstPortsTop : d.udpSrcPortsTop
      if (list.length < EVIDENCE_PORTS) list.push(p)
    }
    const peers = await rowsAsJson<{
      k: number
      peer: string
      rec_out: bigint
      rec_in: bigint
      est_packets: bigint | number
      est_bytes: bigint | number
      est_bytes_out: bigint | number
      peer_count: bigint
      peers_out: bigint
      peers_in: bigint
      max_ports_out: bigint
      max_ports_in: bigint
      once_in: bigint
      once_out: bigint
      syn_only: bigint
      max_bytes_out: bigint | number
    }>(
      store,
      `WITH totals AS (
         SELECT k, count(*) AS peer_count, count(*) FILTER (rec_out > 0) AS peers_out, count(*) FILTER (rec_in > 0) AS peers_in,
                max(ports_out) AS max_ports_out, max(ports_in) AS max_ports_in,
                count(*) FILTER (rec_in = 1) AS once_in, count(*) FILTER (rec_out = 1) AS once_out,
                count(*) FILTER (rec_in >= 1 AND syn_in = rec_in) AS syn_only, max(est_bytes_out) AS max_bytes_out
           FROM evidence_peers GROUP BY k),
       top AS (SELECT k, peer, rec_out, rec_in, est_packets, est_bytes, est_bytes_out FROM evidence_peers
               QUALIFY row_number() OVER (PARTITION BY k ORDER BY est_packets DESC, peer) <= ${EVIDENCE_PEERS})
       SELECT top.*, totals.* EXCLUDE (k)
         FROM top JOIN totals USING (k)
         ORDER BY k, est_packets DESC, peer`,
    )
    for (const r of peers) {
      const e = byIndex[r.k]
      if (e === undefined) continue
      e.peerCount = num(r.peer_count)
      e.out.peers = num(r.peers_out)
      e.in.peers = num(r.peers_in)
      e.out.maxPortsOnePeer = num(r.max_ports_out)
      e.in.maxPortsOnePeer = num(r.max_ports_in)
      e.peersOnceIn = num(r.once_in)
      e.peersOnceOut = num(r.once_out)
      e.peersSynOnly = num(r.syn_only)
      e.maxBytesOutOnePeer = num(r.max_bytes_out)
      e.peers.push({address: r.peer, recordsOut: num(r.rec_out), recordsIn: num(r.rec_in), estPackets: num(r.est_packets), estBytes: num(r.est_bytes), estBytesOut: num(r.est_bytes_out)})
    }
    for (const r of await rowsAsJson<{k: number; peer: string; r: bigint}>(
      store,
      `SELECT k, peer, rec_out + rec_in AS r FROM evidence_peers
        QUALIFY row_number() OVER (PARTITION BY k ORDER BY rec_out + rec_in DESC, peer) <= 2 ORDER BY k, r DESC, peer`,
    )) {
      byIndex[r.k]?.topPeersByRecords.push({address: r.peer, records: num(r.r)})
    }
  } finally {
    await store.run('DROP TABLE IF EXISTS evidence_peers')
    await store.run('DROP TABLE IF EXISTS evidence_edges')
    await store.run('DELETE FROM evidence_spans_in')
  }
  return out
}

/**
 * The rows of a query, read as one JSON text (`to_json(list(…))`) and parsed: for results of thousands
 * of rows and tens of columns, converting each value through the client API cost more than the query
 * (a 5,600-row × 20-column aggregate: 134 ms as rows, 40 ms as JSON). Integers arrive as numbers.
 */
async function rowsAsJson<T>(store: FlowStore, sql: string): Promise<T[]> {
  const [row] = await store.all<{j: string | null}>(`SELECT CAST(to_json(list(q)) AS VARCHAR) AS j FROM (${sql}) q`)
  return row?.j === null || row?.j === undefined ? [] : (JSON.parse(row.j) as T[])
}

function num(v: unknown): number {
  if (v === null || v === undefined) return 0
  return typeof v === 'bigint' ? Number(v) : Number(v)
}

function emptyDirection(): DirectionEvidence {
  return {
    records: 0,
    packets: 0,
    bytes: 0,
    estPackets: 0,
    estBytes: 0,
    tcpRecords: 0,
    synOnlyRecords: 0,
    synAckRecords: 0,
    bareSynAckRecords: 0,
    udpRecords: 0,
    udpEstPackets: 0,
    udpProbeRecords: 0,
    icmpRecords: 0,
    shortConnRecords: 0,
    dnsPackets: 0,
    dnsLongPackets: 0,
    peers: 0,
    dstPorts: 0,
    maxPortsOnePeer: 0,
    topPairPeer: null,
    topPairPort: -1,
    topPairShortConns: 0,
    dstPortsTop: [],
    udpSrcPortsTop: [],
    topDstPortByRecords: null,
  }
}

/** Evidence of an entity with no records in its span. */
export function emptyEvidence(): EntityEvidence {
  return {samplingRate: 1, firstRecordUs: null, lastRecordUs: null, out: emptyDirection(), in: emptyDirection(), peerCount: 0, peersOnceIn: 0, peersOnceOut: 0, peersSynOnly: 0, peers: [], topPeersByRecords: [], maxBytesOutOnePeer: 0}
}
