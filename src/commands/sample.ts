import {Args, Flags} from '@oclif/core'

import {BaseCommand, seedFlag} from '../base-command.js'
import {rateFlag, networkFlag} from '../flag-types.js'
import {renderSampledCapture, renderThinnedFlows} from '../report/index.js'
import {PACKET_SAMPLER_NAMES, sampleIntoStore} from '../sampling/index.js'
import type {SampleIntoStoreResult} from '../sampling/index.js'

export default class Sample extends BaseCommand<typeof Sample> {
  static summary = 'Sample a capture (or stored flows) at a sub-1% rate and extrapolate the whole from the sample.'
  static description = `With a capture: its packets are sampled the way routers do (systematic 1-in-N with a random start as Sampled NetFlow, random 1-in-N, sFlow-style random skips with a sample pool, or hash-based flow sampling), flows are assembled from the sampled packets only, and the sampled flows are stored as a new source whose records carry sampling_rate N. Totals, TCP flows (from SYN flags), distinct hosts (Chao1) and top talkers are extrapolated with 95% intervals and printed beside the truth of the full capture.

With --from-network or --from-source: the stored flow records are thinned binomially (each record keeps Binomial(packets, 1/N) packets), which simulates packet sampling of flow records; the output says so.`

  static examples = [
    {description: 'One packet in a thousand, as a router would export', command: '<%= config.bin %> <%= command.id %> fixtures/demo.pcap --rate 1/1000'},
    {description: 'sFlow-style sampling at 1/256 into the network label "lab-sampled"', command: '<%= config.bin %> <%= command.id %> lab.pcap --rate 1/256 --sampler sflow --network lab-sampled'},
    {description: 'Simulate 1/100 packet sampling of flows already stored', command: '<%= config.bin %> <%= command.id %> --from-network lab --rate 0.01 --network lab-1in100'},
  ]

  static args = {file: Args.string({description: 'capture to sample (pcap or pcapng)'})}

  static flags = {
    rate: rateFlag({summary: 'Sampling rate: 1/1000, 0.001 or 1000 (one in N).', required: true}),
    sampler: Flags.option({summary: 'Packet sampler.', options: PACKET_SAMPLER_NAMES, default: 'systematic' as const})(),
    seed: seedFlag,
    network: networkFlag({summary: 'Network label of the stored sample (default: <input network>-sampled).'}),
    'source-network': Flags.string({summary: 'Network the full capture was (or would be) ingested under, for its parent link.', default: 'default'}),
    'from-network': Flags.string({summary: 'Thin the stored flows of this network instead of reading a capture.', exclusive: ['file', 'from-source']}),
    'from-source': Flags.integer({summary: 'Thin the stored flows of this source id.', exclusive: ['file', 'from-network']}),
    'no-store': Flags.boolean({summary: 'Only print the extrapolation; store nothing.'}),
    top: Flags.integer({summary: 'Top talkers to list.', default: 10, min: 1}),
  }

  async run(): Promise<SampleIntoStoreResult> {
    const f = this.flags
    const r = await sampleIntoStore(f.db, {
      ...(this.args.file === undefined ? {} : {file: this.args.file}),
      ...(f['from-network'] === undefined ? {} : {fromNetwork: f['from-network']}),
      ...(f['from-source'] === undefined ? {} : {fromSource: f['from-source']}),
      rate: f.rate,
      sampler: f.sampler,
      seed: f.seed,
      ...(f.network === undefined ? {} : {network: f.network}),
      sourceNetwork: f['source-network'],
      top: f.top,
      store: !f['no-store'],
    })
    if ('extrapolation' in r) {
      this.note('packet sampling was simulated on flow records by binomial thinning (not sampled from packets)')
      for (const w of r.warnings) this.note(w)
      this.out(renderThinnedFlows(r))
    } else {
      for (const w of r.warnings) this.note(w)
      this.out(renderSampledCapture(this.args.file!, r))
    }
    return r
  }
}
