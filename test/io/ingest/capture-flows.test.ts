import {existsSync} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import type {FlowBatch} from '../../../src/core/flow-batch.js'
import {addrToString} from '../../../src/core/ip.js'
import {readCapture} from '../../../src/io/capture/capture-reader.js'
import {FlowAssembler} from '../../../src/io/capture/flow-assembler.js'
import {ExportRecordAssembler} from '../../../src/io/flowexport/index.js'
import {CaptureFlows} from '../../../src/io/ingest/capture-flows.js'
import {FIXTURES, SHARED_DATA} from '../../helpers/cli.js'

const SMALL = path.join(FIXTURES, 'small.pcapng')
const IPFIX = path.join(SHARED_DATA, 'pmacct-flowexport/401-traffic-00.pcap')

function rows(batches: Iterable<FlowBatch>): string[] {
  const out: string[] = []
  for (const b of batches) {
    for (let i = 0; i < b.length; i++) {
      out.push([b.tsStart[i], b.tsEnd[i], addrToString(b.srcAddr, i, b.family[i]!), addrToString(b.dstAddr, i, b.family[i]!), b.srcPort[i], b.dstPort[i], b.proto[i], b.tcpFlags[i], b.packets[i], b.bytes[i], b.samplingRate[i], b.exporter[i]].join(','))
    }
  }
  return out
}

/** Each batch's rows copied out as it arrives: a producer may fill a batch again once handed on. */
async function collect(capture: CaptureFlows): Promise<{flows: string[]; yields: number}> {
  const flows: string[] = []
  let yields = 0
  for await (const ready of capture.batches()) {
    yields++
    flows.push(...rows(ready))
  }
  return {flows, yields}
}

/** The loop the ingest decode job and stream replay each ran before CaptureFlows. */
async function byHand(file: string, exports: boolean): Promise<string[]> {
  const producer = exports ? new ExportRecordAssembler() : new FlowAssembler({idleTimeoutMicros: 5e6, activeTimeoutMicros: 60e6})
  const flows: string[] = []
  for await (const packets of readCapture(file)) {
    producer.push(packets)
    flows.push(...rows(producer.takeReady()))
  }
  flows.push(...rows(producer.flush()))
  return flows
}

describe('CaptureFlows', () => {
  it('assembles a packet capture into the flows FlowAssembler gives, one yield per packet batch and one at the end', async () => {
    const capture = new CaptureFlows(SMALL, {idleTimeoutMicros: 5e6, activeTimeoutMicros: 60e6})
    const {flows, yields} = await collect(capture)
    expect(flows.length).toBeGreaterThan(0)
    expect(flows).toEqual(await byHand(SMALL, false))
    expect(capture.collector).toBeUndefined()
    expect(capture.readStats.format).toBe('pcapng')
    expect(capture.readStats.records).toBe(capture.assembler.stats.packets)
    expect(yields).toBeGreaterThanOrEqual(2)
  })

  it('passes the read options through to the reader (progress, the bytes for hashing)', async () => {
    let seen = 0
    let progress = 0
    const capture = new CaptureFlows(SMALL, {read: {syncReads: true, onData: (b) => {
      seen += b.length
    }, onProgress: (n) => (progress = n)}})
    await collect(capture)
    expect(seen).toBe(capture.readStats.bytesRead)
    expect(progress).toBe(capture.readStats.bytesRead)
  })

  it.skipIf(!existsSync(IPFIX))('decodes the flow records of a capture of IPFIX datagrams, or its packets when told', async () => {
    const auto = new CaptureFlows(IPFIX)
    const {flows} = await collect(auto)
    expect(auto.collector).toBeDefined()
    expect(flows.length).toBeGreaterThan(100)
    expect(flows).toEqual(await byHand(IPFIX, true))
    const packets = new CaptureFlows(IPFIX, {decode: 'packets'})
    const asPackets = await collect(packets)
    expect(packets.collector).toBeUndefined()
    expect(asPackets.flows.length).toBeLessThan(10)
    expect(packets.assembler.stats.packets).toBe(619)
  })
})
