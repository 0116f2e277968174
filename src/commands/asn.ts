import {Args} from '@oclif/core'

import {BaseCommand} from '../base-command.js'
import {lookupAsn} from '../buckets/index.js'
import type {AsnInfo} from '../buckets/index.js'
import {FlowStore} from '../io/index.js'
import {renderTable} from '../report/index.js'

export default class Asn extends BaseCommand<typeof Asn> {
  static summary = 'Look up the autonomous system of IP addresses.'
  static description = `IPv4 and IPv6. Data: RouteViews and DB-IP ASN Lite (CC BY 4.0) through the @ip-location-db/asn package, loaded once per data version into a cache file (~/.cache/flowscope). Private and reserved ranges are marked as such.`

  static examples = [
    {description: 'Two addresses', command: '<%= config.bin %> <%= command.id %> 8.8.8.8 2606:4700::1111'},
    {description: 'As JSON', command: '<%= config.bin %> <%= command.id %> 10.1.2.3 1.1.1.1 --json'},
  ]

  static strict = false
  static args = {ip: Args.string({description: 'IP addresses', required: true})}

  async run(): Promise<AsnInfo[]> {
    const store = await FlowStore.open(':memory:')
    let rows: AsnInfo[]
    try {
      rows = await lookupAsn(store, this.positional)
    } finally {
      await store.close()
    }
    this.out(
      renderTable(
        [
          {header: 'ip', value: (r: AsnInfo) => r.ip},
          {header: 'asn', value: (r) => (r.asn === null ? '-' : `AS${r.asn}`)},
          {header: 'name', value: (r) => r.name ?? r.note ?? '-'},
          {header: 'scope', value: (r) => r.scope},
        ],
        rows,
      ),
    )
    return rows
  }
}
