import {existsSync} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {ingestCapture} from '../../src/io/ingest/ingest.js'
import {FlowStore} from '../../src/io/store/store.js'
import {SHARED_DATA, tempDir} from '../helpers/cli.js'

const PMACCT = path.join(SHARED_DATA, 'pmacct-flowexport')
const NDPI_NF9 = path.join(SHARED_DATA, 'ndpi-flowexport/netflowv9.pcap')
const ATTACK = path.join(SHARED_DATA, 'ddosgrid/portscan.pcap')

describe.skipIf(!existsSync(PMACCT))('ingest of captures that carry flow exports', () => {
  it('decodes the IPFIX datagrams of pmacct 401 into the same records and totals as nfdump', async () => {
    const store = await FlowStore.open(path.join(tempDir(), 'x.duckdb'))
    for (const f of ['401-traffic-00.pcap', '401-traffic-01.pcap']) {
      const r = await ingestCapture(store, path.join(PMACCT, f), {network: 'lab'})
      expect(r.content).toBe('flow-export')
      expect(r.flowExport!.undecodableSets).toBe(0)
      expect(r.flowExport!.otherPackets).toBeGreaterThan(0) // the BMP session beside the exports
    }
    // nfdump -I of nfcapd.pmacct-ipfix-mpls-401 (VERIFY/…info.txt): Flows 1464, Packets 613581, Bytes 112953938
    const [t] = await store.all<{flows: bigint; packets: bigint; bytes: bigint; exporters: bigint}>(
      'SELECT count(*) AS flows, sum(packets)::BIGINT AS packets, sum(bytes)::BIGINT AS bytes, count(*) FILTER (WHERE exporter IS NULL) AS exporters FROM flows',
    )
    expect(t).toEqual({flows: 1464n, packets: 613581n, bytes: 112953938n, exporters: 0n})
    const [content] = await store.all<{c: string}>('SELECT DISTINCT content AS c FROM sources')
    expect(content!.c).toBe('flow-export')
    await store.close()
  })

  it('the same capture read as packets gives packet flows of the export traffic instead', async () => {
    const store = await FlowStore.open(path.join(tempDir(), 'x.duckdb'))
    const r = await ingestCapture(store, path.join(PMACCT, '401-traffic-00.pcap'), {network: 'lab', decode: 'packets'})
    expect(r.content).toBe('packets')
    expect(r.packets).toBe(619)
    expect(r.flows).toBeLessThan(10)
    await store.close()
  })

  it('a template-less NetFlow v9 capture stores nothing and says how much it could not decode', async () => {
    const store = await FlowStore.open(path.join(tempDir(), 'x.duckdb'))
    const r = await ingestCapture(store, NDPI_NF9, {network: 'lab'})
    expect(r.content).toBe('flow-export')
    expect(r.flows).toBe(0)
    expect(r.flowExport!.undecodableSets).toBeGreaterThan(0)
    await store.close()
  })

  it('an ordinary capture is not mistaken for export traffic', async () => {
    const store = await FlowStore.open(path.join(tempDir(), 'x.duckdb'))
    const r = await ingestCapture(store, ATTACK, {network: 'lab'})
    expect(r.content).toBe('packets')
    await store.close()
  })
})
