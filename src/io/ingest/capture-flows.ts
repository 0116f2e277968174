/**
 * A capture's flows: the packets read, then assembled into flows (FlowAssembler) or, when the capture
 * carries NetFlow/IPFIX/sFlow datagrams, decoded into their flow records (ExportRecordAssembler) —
 * chosen from the first packets, as ingest's `auto` decode does. The ingest worker (decode-job.ts)
 * and `stream put` (stream/replay.ts) both read captures through it; each adds its own work (hashing
 * and progress, pacing) around the batches.
 *
 * The batches are the producers' own typed-array batches, handed on without a copy.
 */
import {FlowAssembler, readCapture} from '../capture/index.js'
import type {CaptureReadStats} from '../capture/index.js'
import type {FlowBatch} from '../../core/index.js'
import {CaptureFormatError} from '../../core/index.js'
import {ExportRecordAssembler, looksLikeExportCapture} from '../flowexport/index.js'

export interface CaptureFlowsOptions {
  /** flows from packets or from export datagrams (default `auto`: detected from the first packets) */
  decode?: 'auto' | 'packets' | 'exports'
  /** FlowAssembler timeouts (its defaults when absent) */
  idleTimeoutMicros?: number
  activeTimeoutMicros?: number
  /** a batch the consumer is done with, for the assembler to fill again */
  reuse?: () => FlowBatch | undefined
  /** how the capture is read (skipBad, syncReads, onData, onProgress, …) */
  read?: Parameters<typeof readCapture>[1]
}

export class CaptureFlows {
  /** the packets' assembler (created up front; it stays empty when the capture carries exports) */
  readonly assembler: FlowAssembler
  /** what the reader saw, updated as it reads */
  readonly readStats: CaptureReadStats = {format: undefined, records: 0, badRecords: 0, bytesRead: 0}
  private exports: ExportRecordAssembler | undefined

  constructor(
    readonly file: string,
    private readonly options: CaptureFlowsOptions = {},
  ) {
    this.assembler = new FlowAssembler({
      ...(options.idleTimeoutMicros === undefined ? {} : {idleTimeoutMicros: options.idleTimeoutMicros}),
      ...(options.activeTimeoutMicros === undefined ? {} : {activeTimeoutMicros: options.activeTimeoutMicros}),
      ...(options.reuse ? {reuse: options.reuse} : {}),
    })
  }

  /** the export-record collector, once the first packets showed the capture carries flow exports */
  get collector(): ExportRecordAssembler | undefined {
    return this.exports
  }

  /**
   * Export records no store may hold are bad records of the capture, at the packet that carried them:
   * the ingest stops naming the file and offset, or with `skipBad` counts them with the bad records.
   */
  private invalidRecords(fileOffset: number, count: number, detail: string): void {
    if (this.options.read?.skipBad !== true) {
      throw new CaptureFormatError(this.file, fileOffset, `export datagram with ${count === 1 ? 'a flow record' : `${count} flow records`} out of range: ${detail}`, {
        hint: 'a damaged count or time field; use --skip-bad to count and skip such records',
      })
    }
    this.readStats.badRecords += count
  }

  /**
   * The flows finished after each batch of packets read (often none: an empty array is yielded
   * too, so a consumer can stop between packet batches), then the rest once the capture ends.
   */
  async *batches(): AsyncGenerator<FlowBatch[]> {
    const mode = this.options.decode ?? 'auto'
    let producer: FlowAssembler | ExportRecordAssembler | undefined
    for await (const packets of readCapture(this.file, this.options.read, this.readStats)) {
      if (!producer) {
        if (mode === 'exports' || (mode === 'auto' && looksLikeExportCapture(packets))) this.exports = new ExportRecordAssembler((at, n, why) => this.invalidRecords(at, n, why))
        producer = this.exports ?? this.assembler
      }
      producer.push(packets)
      yield producer.takeReady()
    }
    if (producer) yield producer.flush()
  }
}
