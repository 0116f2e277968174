import {Flags} from '@oclif/core'

import {BaseCommand, seedFlag} from '../base-command.js'
import {durationFlag} from '../flag-types.js'
import {ALL_ATTACK_KINDS, ATTACK_KINDS, generateTraffic, makeFixtures} from '../gen/index.js'
import type {FixtureInfo, GenerateResult, Volume} from '../gen/index.js'
import {createProgress, humanBytes, renderTable} from '../report/index.js'

type GenCommandResult = GenerateResult | {fixtures: FixtureInfo[]}

export default class Gen extends BaseCommand<typeof Gen> {
  static summary = 'Write a deterministic synthetic capture with labelled attacks and its ground truth.'
  static description = `Internal and external hosts with heavy-tailed (Pareto/Zipf) activity and flow sizes; TCP sessions with handshakes and FIN/RST closes, DNS, other UDP, ICMP, about 18% IPv6, long idle gaps; and injected attacks: horizontal and vertical port scans, a SYN flood with spoofed sources, UDP amplification, SSH brute force, periodic C2 beaconing and one large exfiltration.

The same seed and options give a byte-identical capture. Beside the capture it writes <out>.truth.json (totals per traffic kind and one entry per attack, counted as unidirectional flows with a 15 s idle timeout and FIN/RST closing a flow) and, with --truth-flows, <out>.flows.csv listing every flow. Memory stays flat from a few hundred to tens of millions of packets.`

  static examples = [
    {description: 'A 100,000-packet capture with every attack', command: '<%= config.bin %> <%= command.id %> --out lab.pcap --packets 100000'},
    {description: 'pcapng with nanosecond timestamps, only two attacks, and the per-flow truth', command: '<%= config.bin %> <%= command.id %> --out x.pcapng --packets 5000 --attacks syn-flood --attacks c2-beacon --nanosecond --truth-flows'},
    {description: 'Two hours of traffic with low-and-slow attacks hidden in it', command: '<%= config.bin %> <%= command.id %> --out slow.pcap --packets 200000 --timeline 2h --attacks slow-scan --attacks slow-bruteforce --attacks slow-beacon'},
    {description: 'Re-make the bundled fixtures', command: '<%= config.bin %> <%= command.id %> --fixtures fixtures'},
  ]

  static flags = {
    out: Flags.string({char: 'o', summary: 'Capture file to write (.pcap or .pcapng).', default: 'gen.pcap'}),
    packets: Flags.integer({char: 'n', summary: 'How many packets (about; open sessions finish).', default: 100_000, min: 1}),
    format: Flags.option({summary: 'Capture format (default: from the file name).', options: ['pcap', 'pcapng'] as const})(),
    seed: seedFlag,
    start: Flags.string({summary: 'Time of the first packet (ISO 8601).', default: '2026-01-05T00:00:00Z'}),
    'internal-net': Flags.string({summary: 'Internal network CIDR (one IPv4 and/or one IPv6).', multiple: true}),
    attacks: Flags.option({
      summary: 'Attacks to inject (default: every attack but the slow ones).',
      description: 'slow-scan, slow-bruteforce and slow-beacon are low-and-slow variants (a few events an hour) for the post-processing pass; they run only when named, best with a longer --timeline.',
      options: ALL_ATTACK_KINDS,
      multiple: true,
    })(),
    timeline: durationFlag({summary: 'Length of the capture in time (e.g. 2h); default: set by --packets.'}),
    'no-attacks': Flags.boolean({summary: 'Benign traffic only.', default: false, exclusive: ['attacks']}),
    'truth-flows': Flags.boolean({summary: 'Also write <out>.flows.csv with every flow (for small captures).', default: false}),
    nanosecond: Flags.boolean({summary: 'Nanosecond timestamps.', default: false}),
    'max-payload': Flags.integer({summary: 'Largest transport payload in bytes (smaller keeps files small).', default: 1460, min: 0, max: 8960}),
    fixtures: Flags.string({summary: 'Instead: write the bundled fixtures into this folder.'}),
  }

  async run(): Promise<GenCommandResult> {
    const f = this.flags
    if (f.fixtures !== undefined) {
      const fixtures = await makeFixtures(f.fixtures)
      this.out(renderTable([{header: 'fixture', value: (x: FixtureInfo) => x.path}, {header: 'packets', value: (x) => x.packets}, {header: 'flows', value: (x) => x.flows}], fixtures))
      return {fixtures}
    }
    const format = f.format ?? (f.out.toLowerCase().endsWith('.pcapng') ? 'pcapng' : 'pcap')
    const progress = createProgress(this.showProgress, `gen ${f.out}`, f.packets, 'k packets', 1000)
    let r: GenerateResult
    try {
      r = await generateTraffic({
        out: f.out,
        format,
        seed: f.seed,
        packets: f.packets,
        start: f.start,
        ...(f['internal-net'] ? {internalNet: f['internal-net']} : {}),
        attacks: f['no-attacks'] ? [] : (f.attacks ?? ATTACK_KINDS),
        truthFlows: f['truth-flows'],
        nanosecond: f.nanosecond,
        maxPayload: f['max-payload'],
        ...(f.timeline === undefined ? {} : {timelineSec: f.timeline}),
        onProgress: (n) => progress.update(n),
      })
    } finally {
      progress.stop()
    }
    const t = r.truth
    this.out(`${r.out}: ${t.packets} packets, ${t.flows} flows, ${humanBytes(t.bytes)} IP bytes, ${t.start} .. ${t.end}`)
    this.out(`truth: ${r.truthPath}${r.flowsPath ? `, flows: ${r.flowsPath}` : ''}\n`)
    this.out(
      renderTable(
        [
          {header: 'kind', value: (k: [string, Volume]) => k[0]},
          {header: 'flows', value: (k) => k[1].flows},
          {header: 'packets', value: (k) => k[1].packets},
          {header: 'bytes', value: (k) => humanBytes(k[1].bytes), align: 'right'},
        ],
        Object.entries(t.kinds).filter((e): e is [string, Volume] => (e[1]?.packets ?? 0) > 0),
      ),
    )
    return r
  }
}
