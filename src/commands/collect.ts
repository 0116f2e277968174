import {Flags} from '@oclif/core'

import {BaseCommand} from '../base-command.js'
import {FlowStore, parseListen, runCollector} from '../io/index.js'
import type {CollectorResult} from '../io/index.js'

export default class Collect extends BaseCommand<typeof Collect> {
  static summary = 'Receive NetFlow v5/v9, IPFIX and sFlow v5 on a UDP socket and store the flows.'
  static description = `A live collector. Datagrams are decoded as they arrive (templates kept per exporter and observation domain; data that comes before its template is held until it arrives) and written to the store in batches, each batch one transaction. SIGINT or SIGTERM stops it cleanly: the socket is closed and everything received is flushed before it exits.

Exporters are told apart by their source address. The protocol is recognised by content, so any port works.`

  static examples = [
    {description: 'Listen on the NetFlow port on every interface', command: '<%= config.bin %> <%= command.id %> --listen udp://0.0.0.0:2055 --network core'},
    {description: 'IPFIX on IPv6 loopback, flushing every second, stop after 10 minutes', command: '<%= config.bin %> <%= command.id %> --listen udp://[::1]:4739 --flush-interval 1 --duration 600'},
  ]

  static flags = {
    listen: Flags.string({summary: 'Address to listen on: udp://HOST:PORT.', default: 'udp://0.0.0.0:2055'}),
    network: Flags.string({summary: 'Network (tenant) label stored with every flow.', default: 'default'}),
    'flush-interval': Flags.integer({summary: 'Seconds between writes to the store.', default: 5, min: 1}),
    'flush-records': Flags.integer({summary: 'Write as soon as this many records are waiting.', default: 50_000, min: 1}),
    duration: Flags.integer({summary: 'Stop by itself after this many seconds (default: run until SIGINT/SIGTERM).', min: 1}),
  }

  async run(): Promise<CollectorResult> {
    const listen = parseListen(this.flags.listen)
    const store = await FlowStore.open(this.flags.db)
    const controller = new AbortController()
    const stop = (): void => controller.abort()
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
    const timer = this.flags.duration === undefined ? undefined : setTimeout(stop, this.flags.duration * 1000)
    let result: CollectorResult
    try {
      result = await runCollector(store, {
        listen,
        network: this.flags.network,
        flushIntervalMs: this.flags['flush-interval'] * 1000,
        flushRecords: this.flags['flush-records'],
        signal: controller.signal,
        onListening: (a) => this.info(`listening on udp://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port} (stop with Ctrl-C)`),
        onFlush: (f) => this.info(`stored ${f.records} records (${f.totalRecords} in all)`),
      })
    } finally {
      if (timer) clearTimeout(timer)
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      await store.close()
    }
    if (result.undecodableSets > 0) this.note(`${result.undecodableSets} data set(s) could not be decoded (their template never arrived)`)
    if (result.malformed > 0) this.note(`${result.malformed} malformed export structure(s); first: ${JSON.stringify(result.problems[0])}`)
    this.out(`received ${result.datagrams} datagrams, stored ${result.records} flow records (${result.packets} packets, ${result.bytes} bytes) as source ${result.sourceId}`)
    return result
  }
}
