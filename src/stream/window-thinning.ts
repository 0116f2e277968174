/**
 * `--rate-limit` in the stream: each network's flows of a closed window are thinned to its budget
 * (core/thinning.ts) before they are scored and stored, with the window length as the interval. The
 * window, not the GetRecords batch, is the unit so that k depends only on what the window holds:
 * a window read again after a restart holds the same records, gets the same k and keeps the same
 * records with the same sampling rate, which the scorer's replay check then finds already stored.
 */
import {rateLimitFor, thinFlows, type FlowBatch, type RateLimits, type ThinningTally} from '../core/index.js'

export interface WindowThinning {
  limits: RateLimits
  seed?: number
  tally: ThinningTally
}

/** The window's flows by network, each network over its budget thinned; networks left without records are dropped. */
export function thinWindowFlows(flowsByNetwork: Map<string, FlowBatch>, seconds: number, t: WindowThinning | undefined): Map<string, FlowBatch> {
  if (t === undefined) return flowsByNetwork
  const out = new Map<string, FlowBatch>()
  for (const [network, flows] of flowsByNetwork) {
    const budget = rateLimitFor(t.limits, network)
    if (budget === undefined) {
      out.set(network, flows)
      continue
    }
    const r = thinFlows(flows, {budgetPerSec: budget, seconds, network, ...(t.seed === undefined ? {} : {seed: t.seed})})
    t.tally.add(network, budget, r)
    if (r.batch.length > 0) out.set(network, r.batch)
  }
  return out
}
