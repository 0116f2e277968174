import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {RELATED_BEACON_FEATURE, findBeaconRelations, relatedBeaconDetections} from '../../src/infer/beacon-pivot.js'
import type {DetectionRow} from '../../src/infer/detections.js'
import {computeFeatures} from '../../src/infer/features.js'
import type {FlowRecordInput} from '../../src/core/flow-batch.js'
import {appendFlowRecord, createFlowBatch} from '../../src/core/flow-batch.js'
import {FlowStore} from '../../src/io/store/store.js'

const SEC = 1_000_000
/** a multiple of 60 s: the window starting here holds every flow below */
const T0 = 1_700_000_040 * SEC
const NETWORK = 'lab'

type Flow = Omit<FlowRecordInput, 'tsEnd'>

function v4(text: string): number[] {
  return [text.split('.').reduce((acc, part) => acc * 256 + Number(part), 0)]
}

/** one TCP session of `client` to `server`:`port` at `t` s: the request record (with its SYN) and a lone ACK after it */
function session(client: number[], server: number[], port: number, t: number, bytes: number, family: 4 | 6 = 4): Flow[] {
  const common = {family, src: client, dst: server, srcPort: 40000 + t, dstPort: port, proto: 6}
  return [
    {...common, tsStart: T0 + t * SEC, tcpFlags: 0x1b, packets: 13, bytes},
    {...common, tsStart: T0 + (t + 0.2) * SEC, tcpFlags: 0x10, packets: 1, bytes: 52},
    {...common, family, src: server, dst: client, srcPort: port, dstPort: 40000 + t, tsStart: T0 + t * SEC, tcpFlags: 0x1b, packets: 11, bytes: 4500},
  ]
}

const CLIENT = v4('10.1.1.5')
const SERVER = v4('203.0.113.21')
const V6_CLIENT = [0x20010db8, 0x00010000, 0, 5]
const V6_SERVER = [0x20010db8, 0xaaaa0001, 0, 1]

const FLOWS: Flow[] = [
  // the beacon: every 10 s, 1,525-byte requests (a few bytes either way)
  ...Array.from({length: 28}, (_, k) => session(CLIENT, SERVER, 443, 5 + 10 * k, 1525 + (k % 3) * 26)).flat(),
  // its neighbour, reached with the beacon's request: related
  ...session(CLIENT, v4('203.0.113.20'), 443, 123, 1530),
  // a neighbour reached with requests of its own size (another site of a shared block): not related
  ...session(CLIENT, v4('203.0.113.22'), 443, 130, 40_000),
  // the beacon's size, but another /24, another port, or another client: not related
  ...session(CLIENT, v4('198.51.100.20'), 443, 140, 1525),
  ...session(CLIENT, v4('203.0.113.23'), 80, 150, 1525),
  ...session(v4('10.1.1.6'), v4('203.0.113.24'), 443, 160, 1525),
  // an IPv6 beacon, its neighbour in the server's /48 (related) and one outside it (not)
  ...Array.from({length: 10}, (_, k) => session(V6_CLIENT, V6_SERVER, 8443, 7 + 25 * k, 900, 6)).flat(),
  ...session(V6_CLIENT, [0x20010db8, 0xaaaa0002, 0, 1], 8443, 100, 900, 6),
  ...session(V6_CLIENT, [0x20010db8, 0xaaab0000, 0, 1], 8443, 110, 900, 6),
]

function seed(address: string, attackType: DetectionRow['attackType'] = 'beaconing'): DetectionRow {
  return {network: NETWORK, address, windowStart: T0, windowEnd: T0 + 300 * SEC, model: 'm', pass: 'first', score: 100, threshold: 10, attackType, topFeatures: []}
}

describe('beacon pivoting', () => {
  let store: FlowStore
  let v6: {client: string; server: string; inside: string}

  beforeAll(async () => {
    store = await FlowStore.open(':memory:')
    const batch = createFlowBatch(FLOWS.length)
    for (const f of FLOWS) appendFlowRecord(batch, {...f, tsEnd: f.tsStart + SEC})
    const appender = await store.createFlowAppender()
    appender.append(batch, NETWORK, 1)
    appender.close()
    const text = await store.all<{src_ip: string; dst_ip: string}>(
      "SELECT DISTINCT src_ip, dst_ip FROM flows WHERE family = 6 AND dst_port = 8443 AND tcp_flags = 27 ORDER BY dst_ip",
    )
    v6 = {client: text[0]?.src_ip ?? '', server: text[0]?.dst_ip ?? '', inside: text[1]?.dst_ip ?? ''}
  })
  afterAll(async () => {
    await store?.close()
  })

  it('relates the server block neighbour the beacon client reaches with the beacon request, from either end', async () => {
    for (const from of ['10.1.1.5', '203.0.113.21']) {
      const relations = await findBeaconRelations(store, [seed(from)], 300)
      expect(relations.map((r) => r.address), from).toEqual(['203.0.113.20'])
      expect(relations[0]).toMatchObject({client: '10.1.1.5', server: '203.0.113.21', port: 443, proto: 6, records: 1, relatedBytes: 1530, windowStart: T0})
      expect(relations[0]?.reason).toContain('same /24 and service (TCP 443) as beacon server 203.0.113.21')
    }
  })

  it('uses the /48 for IPv6', async () => {
    const relations = await findBeaconRelations(store, [seed(v6.client)], 300)
    expect(relations.map((r) => r.address)).toEqual([v6.inside])
    expect(relations[0]?.server).toBe(v6.server)
  })

  it('pivots only from beacon detections and never reports a seed again', async () => {
    expect(await findBeaconRelations(store, [seed('10.1.1.5', 'scan')], 300)).toEqual([])
    expect(await findBeaconRelations(store, [], 300)).toEqual([])
    const both = await findBeaconRelations(store, [seed('10.1.1.5'), seed('203.0.113.20')], 300)
    expect(both.map((r) => r.address)).not.toContain('203.0.113.20')
  })

  it('reports the relation as a beaconing detection headed by its evidence', async () => {
    const features = await computeFeatures(store, {network: NETWORK})
    const scores = {scores: new Float64Array(features.length).fill(0.5), threshold: 10}
    const own = [{name: 'bytes_out_log1p', value: 7.3, standardisedError: 0.1}]
    const {detections} = await relatedBeaconDetections(store, {features, scores, detections: [seed('10.1.1.5')], ownTopFeatures: () => own})
    expect(detections).toHaveLength(1)
    const d = detections[0] as DetectionRow
    expect(d).toMatchObject({network: NETWORK, address: '203.0.113.20', windowStart: T0, windowEnd: T0 + 300 * SEC, attackType: 'beaconing', score: 0.5, threshold: 10, model: 'm', pass: 'first'})
    expect(d.topFeatures[0]?.name).toBe(`${RELATED_BEACON_FEATURE} 203.0.113.21 via 10.1.1.5`)
    expect(d.topFeatures[0]?.value).toBe(1)
    expect(d.topFeatures.slice(1)).toEqual(own)
  })
})
