import {mkdtempSync, rmSync, statSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'

import {generateTraffic} from '../../src/gen/index.js'

const dir = mkdtempSync(path.join(os.tmpdir(), 'flowscope-gen-mem-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))

describe('generateTraffic at scale', () => {
  it('keeps the number of open sessions and tracked tuples bounded for 1M packets', async () => {
    const small = await generateTraffic({out: path.join(dir, 'small.pcap'), packets: 100_000, seed: 11, maxPayload: 0})
    const rss0 = process.memoryUsage().rss
    let peak = rss0
    const big = await generateTraffic({
      out: path.join(dir, 'big.pcap'),
      packets: 1_000_000,
      seed: 11,
      maxPayload: 0,
      onProgress: () => {
        peak = Math.max(peak, process.memoryUsage().rss)
      },
    })
    expect(big.packets).toBeGreaterThanOrEqual(1_000_000)
    expect(big.packets).toBeLessThan(1_050_000)
    expect(statSync(big.out).size).toBeGreaterThan(big.packets * 16)
    // open sessions follow the session rate (fixed per second of traffic), not the capture length
    expect(big.stats.maxActiveSessions).toBeLessThan(5_000)
    expect(big.stats.maxTrackedTuples).toBeLessThan(100_000)
    expect(big.stats.maxActiveSessions).toBeLessThan(small.stats.maxActiveSessions * 20)
    expect(peak - rss0).toBeLessThan(150e6)
  })
})
