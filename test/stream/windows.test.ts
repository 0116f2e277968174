import {describe, expect, it} from 'vitest'

import {appendFlowRecord, createFlowBatch} from '../../src/core/flow-batch.js'
import {FlowBatchBuilder, ScaleMonitor, SHARD_END, ShardProgress, WindowAssembler, windowFlows} from '../../src/stream/index.js'

const S = 1_000_000 // µs per second

/** Flows starting at the given seconds (network 'n'); `bytes` = start in ms, to recognise them. */
function flowsAt(...seconds: number[]): FlowBatchBuilder {
  const b = createFlowBatch(seconds.length)
  for (const s of seconds) {
    appendFlowRecord(b, {tsStart: s * S, tsEnd: s * S, family: 4, src: [1], dst: [2], srcPort: 1, dstPort: 2, proto: 6, tcpFlags: 0, packets: 1, bytes: s * 1000})
  }
  const out = new FlowBatchBuilder(seconds.length)
  for (let i = 0; i < b.length; i++) out.appendRow(b, i, 'n')
  return out
}

function clock(start = 1_000_000): {now: () => number; advance: (ms: number) => void} {
  let t = start
  return {now: () => t, advance: (ms) => (t += ms)}
}

const starts = (ws: {startUs: number}[]): number[] => ws.map((w) => w.startUs / S)

describe('WindowAssembler', () => {
  it('closes a window when the watermark (max event time − lateness) passes its end', () => {
    const c = clock()
    const a = new WindowAssembler({windowSec: 5, latenessSec: 2, now: c.now})
    a.addShard('s1')
    a.add('s1', flowsAt(0, 1.5, 4.9, 6.9))
    expect(a.takeClosable()).toEqual([])
    a.add('s1', flowsAt(7))
    const closed = a.takeClosable()
    expect(starts(closed)).toEqual([0])
    expect(closed[0]).toMatchObject({endUs: 5 * S, records: 3, closedBy: 'watermark', straggler: undefined, shards: ['s1']})
    expect(Array.from(windowFlows(closed[0]!).get('n')!.bytes)).toEqual([0, 1500, 4900])
    expect(a.bufferedRecords).toBe(2)
  })

  it('accepts records within the allowed lateness and drops later ones, counting them', () => {
    const c = clock()
    const a = new WindowAssembler({windowSec: 5, latenessSec: 2, now: c.now})
    a.addShard('s1')
    a.add('s1', flowsAt(1, 8))
    // 5.5 is behind the watermark (6) but its window [5, 10) is still open: accepted
    expect(a.add('s1', flowsAt(5.5)).late).toBe(0)
    expect(starts(a.takeClosable())).toEqual([0])
    // window [0, 5) is closed and 4.5 is beyond the lateness: dropped
    const r = a.add('s1', flowsAt(4.5, 9))
    expect(r).toMatchObject({accepted: 1, late: 1})
    expect(a.stats.late).toBe(1)
  })

  it('closes on idle timeout: event time follows wall time once no record came for a while', () => {
    const c = clock()
    const a = new WindowAssembler({windowSec: 5, latenessSec: 2, idleTimeoutMs: 2000, now: c.now})
    a.addShard('s1')
    a.add('s1', flowsAt(1, 3))
    a.noteEmptyRead('s1')
    c.advance(2000)
    // idle, but 3 s + 2 s − 2 s lateness = 3 s: the window [0, 5) has not ended yet
    expect(a.takeClosable()).toEqual([])
    c.advance(2000)
    const closed = a.takeClosable()
    expect(starts(closed)).toEqual([0])
    expect(closed[0]!.closedBy).toBe('idle')
  })

  it('lets a shard that is catching up hold the windows open, until it goes idle', () => {
    const c = clock()
    const a = new WindowAssembler({windowSec: 5, latenessSec: 2, now: c.now})
    a.addShard('fast')
    a.addShard('slow')
    a.add('fast', flowsAt(1, 6, 11, 16, 20))
    a.add('slow', flowsAt(1, 3))
    expect(a.takeClosable()).toEqual([])
    a.add('slow', flowsAt(7.5))
    expect(starts(a.takeClosable())).toEqual([0])
    // the slow shard caught up (empty read): the fast one alone moves the watermark to 18 s
    a.noteEmptyRead('slow')
    expect(starts(a.takeClosable())).toEqual([5, 10])
    // a record of the idle shard for a closed window is late
    expect(a.add('slow', flowsAt(9)).late).toBe(1)
  })

  it('holds every window while a newly added shard has not read yet', () => {
    const c = clock()
    const a = new WindowAssembler({windowSec: 5, latenessSec: 2, stallMs: 10_000, now: c.now})
    a.addShard('s1')
    a.add('s1', flowsAt(1, 20))
    a.addShard('s2')
    expect(a.takeClosable()).toEqual([])
    // a shard that never answers stops holding after the stall time
    c.advance(10_001)
    a.add('s1', flowsAt(21))
    expect(starts(a.takeClosable())).toEqual([0])
  })

  it('puts a taken-over shard behind the closed windows into straggler windows and skips what was committed', () => {
    const c = clock()
    const a = new WindowAssembler({windowSec: 5, latenessSec: 2, now: c.now})
    a.addShard('own')
    a.add('own', flowsAt(1, 6, 11, 18))
    expect(starts(a.takeClosable())).toEqual([0, 5, 10])
    expect(a.mainFrontierUs).toBe(15 * S)
    // taken over with a checkpoint: committed up to 5 s, largest event time 6 s
    a.addShard('taken', {resumeFrontierUs: 5 * S, maxEventUs: 6 * S})
    const r = a.add('taken', flowsAt(4, 6.5, 9, 12))
    expect(r).toMatchObject({skipped: 1, accepted: 3, late: 0})
    // [5,10) closes on the taken shard's own watermark (12 − 2 = 10 s)
    expect(a.takeClosable().map((w) => [w.startUs / S, w.straggler, w.records])).toEqual([[5, 'taken', 2]])
    // the main windows are held open while the taken shard catches up
    a.add('own', flowsAt(25))
    a.add('taken', flowsAt(13))
    expect(a.takeClosable()).toEqual([])
    a.add('taken', flowsAt(17.5, 19, 22))
    expect(a.takeClosable().map((w) => [w.startUs / S, w.straggler ?? 'main', w.records])).toEqual([
      [10, 'taken', 2],
      [15, 'main', 3],
    ])
  })

  it('gives a checkpoint frontier no later than the earliest open window of the shard', () => {
    const c = clock()
    const a = new WindowAssembler({windowSec: 5, latenessSec: 2, now: c.now})
    a.addShard('s1')
    a.addShard('s2')
    a.add('s1', flowsAt(1, 11))
    a.add('s2', flowsAt(7, 11))
    expect(starts(a.takeClosable())).toEqual([0])
    expect(a.shardFrontierUs('s1')).toBe(5 * S)
    // s2's records wait in [5, 10): it may not skip them after a restart
    expect(a.shardFrontierUs('s2')).toBe(5 * S)
    a.add('s1', flowsAt(14))
    a.add('s2', flowsAt(14))
    expect(starts(a.takeClosable())).toEqual([5])
    expect(a.shardFrontierUs('s1')).toBe(10 * S)
  })

  it('drops flows too far in the future', () => {
    const c = clock(1_700_000_000_000)
    const a = new WindowAssembler({windowSec: 5, latenessSec: 2, maxFutureSec: 60, now: c.now})
    a.addShard('s1')
    const r = a.add('s1', flowsAt(1_700_000_000, 1_700_000_050, 1_700_000_100))
    expect(r).toMatchObject({accepted: 2, future: 1})
  })
})

describe('ShardProgress', () => {
  it('checkpoints a shard only up to reads whose windows have all committed', () => {
    const p = new ShardProgress()
    p.track('s1', {lastSequenceNumber: '10', windows: new Map([[1, 0]]), end: false, maxEventUs: 4})
    p.track('s1', {lastSequenceNumber: '20', windows: new Map([[1, 0], [2, 5]]), end: false, maxEventUs: 7})
    p.track('s1', {lastSequenceNumber: '30', windows: new Map([[2, 5]]), end: false, maxEventUs: 9})
    p.track('s2', {lastSequenceNumber: '99', windows: new Map([[2, 5]]), end: true, maxEventUs: 9})
    expect(p.takeReady()).toEqual([])
    expect(p.pendingFrontierUs('s1')).toBe(0)
    p.windowDone(1)
    expect(p.takeReady()).toEqual([{shardId: 's1', sequenceNumber: '10', maxEventUs: 4}])
    expect(p.pendingFrontierUs('s1')).toBe(5)
    p.windowDone(2)
    expect(p.takeReady()).toEqual([
      {shardId: 's1', sequenceNumber: '30', maxEventUs: 9},
      {shardId: 's2', sequenceNumber: SHARD_END, maxEventUs: 9},
    ])
    expect(p.takeReady()).toEqual([])
  })

  it('moves past reads whose records were all late, and ignores repeated empty reads', () => {
    const p = new ShardProgress()
    p.track('s1', {lastSequenceNumber: '10', windows: new Map(), end: false, maxEventUs: 4})
    p.track('s1', {lastSequenceNumber: '10', windows: new Map(), end: false, maxEventUs: 4})
    expect(p.takeReady()).toEqual([{shardId: 's1', sequenceNumber: '10', maxEventUs: 4}])
    expect(p.pendingReads('s1')).toBe(0)
  })
})

describe('ScaleMonitor', () => {
  it('signals scale-out after 10 minutes above 0.95 and scale-in after 30 minutes below 0.3', () => {
    const m = new ScaleMonitor()
    let t = 0
    const feed = (minutes: number, ratio: number): ReturnType<ScaleMonitor['record']>[] => {
      const out = []
      for (let k = 0; k < minutes * 12; k++) {
        t += 5000
        out.push(m.record(t, ratio * 5000, 5000))
      }
      return out
    }
    // 9 minutes of overload: not yet sustained for 10
    expect(feed(9, 0.99).every((s) => s.signal === 'steady')).toBe(true)
    const out = feed(2, 0.99)
    expect(out.at(-1)).toMatchObject({signal: 'scale-out'})
    expect(out.filter((s) => s.changed)).toHaveLength(1)
    // one slow window in a light period does not trigger anything
    feed(10, 0.5)
    expect(m.record((t += 5000), 3 * 5000, 5000).signal).toBe('steady')
    const quiet = feed(31, 0.1)
    expect(quiet.at(-1)).toMatchObject({signal: 'scale-in'})
    expect(quiet.at(-1)!.utilisationLow).toBeCloseTo(0.1, 2)
  })
})
