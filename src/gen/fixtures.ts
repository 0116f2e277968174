/**
 * The bundled fixtures, made by the generator itself: `demo.pcap` (about 20,000 packets, every attack,
 * with the per-flow truth CSV) and `small.pcapng` (about 500 packets). Payloads are capped so the files
 * stay small enough to commit.
 */
import {mkdir} from 'node:fs/promises'
import path from 'node:path'

import {generateTraffic} from './generate.js'

export interface FixtureInfo {
  path: string
  truthPath: string
  flowsPath: string | undefined
  packets: number
  flows: number
}

export const DEMO_FIXTURE = {file: 'demo.pcap', packets: 20_000, seed: 1, maxPayload: 256} as const
export const SMALL_FIXTURE = {file: 'small.pcapng', packets: 500, seed: 2, maxPayload: 256} as const

/** Write `demo.pcap` and `small.pcapng` with their truth files into `dir` (created if missing). */
export async function makeFixtures(dir: string): Promise<FixtureInfo[]> {
  await mkdir(dir, {recursive: true})
  const demo = await generateTraffic({
    out: path.join(dir, DEMO_FIXTURE.file),
    format: 'pcap',
    seed: DEMO_FIXTURE.seed,
    packets: DEMO_FIXTURE.packets,
    maxPayload: DEMO_FIXTURE.maxPayload,
    truthFlows: true,
  })
  const small = await generateTraffic({
    out: path.join(dir, SMALL_FIXTURE.file),
    format: 'pcapng',
    seed: SMALL_FIXTURE.seed,
    packets: SMALL_FIXTURE.packets,
    maxPayload: SMALL_FIXTURE.maxPayload,
    truthFlows: true,
  })
  return [demo, small].map((r) => ({path: r.out, truthPath: r.truthPath, flowsPath: r.flowsPath, packets: r.packets, flows: r.flows}))
}
