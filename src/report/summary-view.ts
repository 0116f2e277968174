import type {StoreSummary} from '../io/index.js'
import {protocolDisplayName} from '../core/index.js'
import {humanBytes, renderTable} from './table.js'

/** The store summary as people read it in a terminal. */
export function renderSummary(s: StoreSummary): string {
  const lines = [
    `store     ${s.db}`,
    `sources   ${s.sources}   networks: ${s.networks.join(', ') || '-'}`,
    `flows     ${s.flows}   packets: ${s.packets}   bytes: ${humanBytes(s.bytes)}`,
    `span      ${s.tsFirst ?? '-'} .. ${s.tsLast ?? '-'}`,
    '',
    renderTable(
      [
        {header: 'proto', value: (r: StoreSummary['byProto'][number]) => protocolDisplayName(r.proto)},
        {header: 'flows', value: (r) => r.flows},
        {header: 'packets', value: (r) => r.packets},
        {header: 'bytes', value: (r) => humanBytes(r.bytes), align: 'right'},
      ],
      s.byProto,
    ),
    '',
    'top sources by bytes',
    renderTable(
      [
        {header: 'src_ip', value: (r: StoreSummary['topSources'][number]) => r.ip},
        {header: 'flows', value: (r) => r.flows},
        {header: 'packets', value: (r) => r.packets},
        {header: 'bytes', value: (r) => humanBytes(r.bytes), align: 'right'},
      ],
      s.topSources,
    ),
  ]
  return lines.join('\n')
}
