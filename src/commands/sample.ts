import {Args, Flags} from '@oclif/core'

import {BaseCommand, seedFlag} from '../base-command.js'
import {UsageError} from '../core/index.js'
import {rateFlag} from '../flag-types.js'
import {FlowStore} from '../io/index.js'
import {createRng} from '../core/index.js'
import {renderTable} from '../report/index.js'
import {PACKET_SAMPLER_NAMES, sampleCaptureIntoStore, thinStoredFlows} from '../sampling/index.js'
import type {SampleCaptureIntoStoreResult, ThinStoredResult} from '../sampling/index.js'

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
    network: Flags.string({summary: 'Network label of the stored sample (default: <input network>-sampled).'}),
    'source-network': Flags.string({summary: 'Network the full capture was (or would be) ingested under, for its parent link.', default: 'default'}),
    'from-network': Flags.string({summary: 'Thin the stored flows of this network instead of reading a capture.', exclusive: ['file', 'from-source']}),
    'from-source': Flags.integer({summary: 'Thin the stored flows of this source id.', exclusive: ['file', 'from-network']}),
    'no-store': Flags.boolean({summary: 'Only print the extrapolation; store nothing.'}),
    top: Flags.integer({summary: 'Top talkers to list.', default: 10, min: 1}),
  }

  async run(): Promise<SampleCaptureIntoStoreResult | ThinStoredResult> {
    const f = this.flags
    const file = this.args.file
    const fromStore = f['from-network'] !== undefined || f['from-source'] !== undefined
    if (!file && !fromStore) throw new UsageError('name a capture to sample, or --from-network / --from-source for stored flows')
    if (file && fromStore) throw new UsageError('sample either a capture or stored flows, not both')
    const store = await FlowStore.open(f.db)
    try {
      if (fromStore) {
        const r = await thinStoredFlows(store, {
          rate: f.rate,
          seed: f.seed,
          rng: createRng(f.seed),
          from: {...(f['from-network'] === undefined ? {} : {network: f['from-network']}), ...(f['from-source'] === undefined ? {} : {sourceId: f['from-source']})},
          network: f.network ?? `${f['from-network'] ?? `source-${f['from-source']}`}-sampled`,
          store: !f['no-store'],
        })
        this.note('packet sampling was simulated on flow records by binomial thinning (not sampled from packets)')
        for (const w of r.warnings) this.note(w)
        const x = r.extrapolation
        this.out(`1/${r.rate} binomial thinning of ${r.inputFlows} flow records: ${r.inputFlows - r.droppedFlows} kept${r.sourceId === null ? '' : `, stored as source ${r.sourceId} (${r.status})`}\n`)
        this.out(
          renderTable(
            [
              {header: 'quantity', value: (row: [string, {estimate: number; ci95: [number, number]}, number]) => row[0]},
              {header: 'estimate', value: (row) => Math.round(row[1].estimate), align: 'right'},
              {header: '95% interval', value: (row) => `[${Math.round(row[1].ci95[0])}, ${Math.round(row[1].ci95[1])}]`, align: 'right'},
              {header: 'truth', value: (row) => row[2], align: 'right'},
              {header: 'error', value: (row) => pct((row[1].estimate - row[2]) / row[2]), align: 'right'},
            ],
            [
              ['packets', x.packets, r.truth.packets],
              ['bytes', x.bytes, r.truth.bytes],
              ['TCP flows', x.tcpFlows, r.truth.tcpFlows],
            ],
          ),
        )
        return r
      }
      const r = await sampleCaptureIntoStore(store, file!, {
        sampler: f.sampler,
        rate: f.rate,
        seed: f.seed,
        rng: createRng(f.seed),
        network: f.network ?? `${f['source-network']}-sampled`,
        sourceNetwork: f['source-network'],
        top: f.top,
        store: !f['no-store'],
      })
      for (const w of r.warnings) this.note(w)
      const p = r.picture
      const t = p.truth
      this.out(
        `${file}: ${p.sampler} 1/${r.rate}: ${p.sampledPackets} packets sampled (effective 1/${p.effectiveRate.toFixed(1)})` +
          `${r.sourceId === null ? '' : `, ${r.records} flow records stored as source ${r.sourceId} (${r.status})`}\n`,
      )
      const rows: [string, {estimate: number; ci95: [number, number]}, {truth: number; relError: number; covered: boolean} | undefined][] = [
        ['packets', p.packets, t?.packets],
        ['bytes', p.bytes, t?.bytes],
        ['TCP flows (SYN)', p.tcpFlows, t?.tcpFlows],
        ['distinct hosts (Chao1)', p.distinctHosts.chao1, t?.distinctHosts],
      ]
      this.out(
        renderTable(
          [
            {header: 'quantity', value: (row: (typeof rows)[number]) => row[0]},
            {header: 'estimate', value: (row) => Math.round(row[1].estimate), align: 'right'},
            {header: '95% interval', value: (row) => `[${Math.round(row[1].ci95[0])}, ${Math.round(row[1].ci95[1])}]`, align: 'right'},
            {header: 'truth', value: (row) => row[2]?.truth ?? '-', align: 'right'},
            {header: 'error', value: (row) => (row[2] ? pct(row[2].relError) : '-'), align: 'right'},
            {header: 'in CI', value: (row) => (row[2] ? (row[2].covered ? 'yes' : 'no') : '-')},
          ],
          rows,
        ),
      )
      this.out('\ntop talkers by bytes (estimated)')
      this.out(
        renderTable(
          [
            {header: 'rank', value: (x: SampleCaptureIntoStoreResult['picture']['topTalkers'][number]) => x.rank},
            {header: 'address', value: (x) => x.address},
            {header: 'bytes', value: (x) => Math.round(x.bytes.estimate), align: 'right'},
            {header: '95% interval', value: (x) => `[${Math.round(x.bytes.ci95[0])}, ${Math.round(x.bytes.ci95[1])}]`, align: 'right'},
            {header: 'rank conf.', value: (x) => x.rankConfidence.toFixed(2), align: 'right'},
          ],
          p.topTalkers,
        ),
      )
      if (t) this.out(`\ntop-${p.topTalkers.length} recall against the full capture: ${(t.topKRecall * 100).toFixed(0)}%`)
      return r
    } finally {
      await store.close()
    }
  }
}

function pct(x: number): string {
  return Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${(x * 100).toFixed(2)}%` : '-'
}
