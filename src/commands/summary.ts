import {Flags} from '@oclif/core'

import {BaseCommand} from '../base-command.js'
import {networkFlag} from '../flag-types.js'
import {openStoreForReading, summarizeStore} from '../io/index.js'
import type {StoreSummary} from '../io/index.js'
import {renderSummary} from '../report/index.js'

export default class Summary extends BaseCommand<typeof Summary> {
  static summary = 'Summarise what is in the flow store.'
  static description = 'Sources, networks, time span, flow/packet/byte totals, the protocol mix and the top talkers by bytes.'
  static examples = [
    {description: 'Summary of the default store', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'One network, top 5 talkers, as JSON', command: '<%= config.bin %> <%= command.id %> --network lab --top 5 --json'},
  ]

  static flags = {
    network: networkFlag({summary: 'Only this network (tenant).'}),
    top: Flags.integer({summary: 'How many top talkers to list.', default: 10, min: 1}),
  }

  async run(): Promise<StoreSummary> {
    const store = await openStoreForReading(this.flags.db, {onBadFlows: (m) => this.note(m)})
    let s: StoreSummary
    try {
      s = await summarizeStore(store, {...(this.flags.network === undefined ? {} : {network: this.flags.network}), top: this.flags.top})
    } finally {
      await store.close()
    }
    this.out(renderSummary(s))
    return s
  }
}
