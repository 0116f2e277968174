/**
 * `flowscope sample` as one layer function: sample a capture's packets into the store, or thin the
 * flows already stored, with the store opened and closed here.
 */
import {createRng, UsageError} from '../core/index.js'
import {FlowStore} from '../io/index.js'
import type {PacketSamplerName} from './packet-samplers.js'
import {sampleCaptureIntoStore, thinStoredFlows} from './store-sample.js'
import type {SampleCaptureIntoStoreResult, ThinStoredResult} from './store-sample.js'

export interface SampleIntoStoreOptions {
  /** a capture to sample; or stored flows, by `fromNetwork` / `fromSource` */
  file?: string
  fromNetwork?: string
  fromSource?: number
  rate: number
  sampler: PacketSamplerName
  seed: number
  /** network label of the stored sample (default: `<input network>-sampled`) */
  network?: string
  /** network the full capture was (or would be) ingested under */
  sourceNetwork: string
  top?: number
  /** store the sample (default true) */
  store?: boolean
}

/** A sampled capture (`picture`) or thinned stored flows (`extrapolation`). */
export type SampleIntoStoreResult = SampleCaptureIntoStoreResult | ThinStoredResult

export async function sampleIntoStore(db: string, o: SampleIntoStoreOptions): Promise<SampleIntoStoreResult> {
  const fromStore = o.fromNetwork !== undefined || o.fromSource !== undefined
  if (!o.file && !fromStore) throw new UsageError('name a capture to sample, or --from-network / --from-source for stored flows')
  if (o.file && fromStore) throw new UsageError('sample either a capture or stored flows, not both')
  const store = await FlowStore.open(db)
  try {
    if (fromStore) {
      return await thinStoredFlows(store, {
        rate: o.rate,
        seed: o.seed,
        rng: createRng(o.seed),
        from: {...(o.fromNetwork === undefined ? {} : {network: o.fromNetwork}), ...(o.fromSource === undefined ? {} : {sourceId: o.fromSource})},
        network: o.network ?? `${o.fromNetwork ?? `source-${o.fromSource}`}-sampled`,
        store: o.store ?? true,
      })
    }
    return await sampleCaptureIntoStore(store, o.file!, {
      sampler: o.sampler,
      rate: o.rate,
      seed: o.seed,
      rng: createRng(o.seed),
      network: o.network ?? `${o.sourceNetwork}-sampled`,
      sourceNetwork: o.sourceNetwork,
      ...(o.top === undefined ? {} : {top: o.top}),
      store: o.store ?? true,
    })
  } finally {
    await store.close()
  }
}
