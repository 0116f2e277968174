/**
 * Packets as a capture reader hands them over: a batch of records over one backing buffer (a chunk of
 * the file), described by parallel typed arrays. No object per packet: the decoder reads straight out
 * of `buf` at `offset[i]`.
 */
export interface PacketBatch {
  count: number
  /** backing bytes; packet i is buf[offset[i] .. offset[i] + caplen[i]) */
  buf: Uint8Array
  offset: Uint32Array
  caplen: Uint32Array
  /** length on the wire (pcap orig_len, pcapng original packet length) */
  origLen: Uint32Array
  /** capture time, µs since the Unix epoch (ns captures are truncated to µs) */
  tsMicros: Float64Array
  /** LINKTYPE_* of the interface the packet came from */
  linktype: Uint16Array
  /** byte offset of the record header in the file, for error messages */
  fileOffset: Float64Array
}

export type CaptureFormat = 'pcap' | 'pcapng'

export interface CaptureReadOptions {
  /** skip and count bad records instead of throwing CaptureFormatError */
  skipBad?: boolean
  /** called with the number of file bytes consumed so far, at most once per chunk */
  onProgress?: (bytesRead: number) => void
  /** sees every byte of the file once, in order, as it is read (e.g. to hash the content in the same pass) */
  onData?: (bytes: Uint8Array) => void | Promise<void>
  /** read-chunk size in bytes (default 4 MiB) */
  chunkSize?: number
  /**
   * read with blocking calls, in pieces of 256 KiB (for a worker thread, which has nothing else to do
   * while it waits): no trip through libuv's thread pool per read, and `onData` sees each piece while
   * it is still in the CPU's cache
   */
  syncReads?: boolean
}

export interface CaptureReadStats {
  format: CaptureFormat | undefined
  records: number
  badRecords: number
  bytesRead: number
}
