// The independent Parquet reader the export tests use; it ships no types.
declare module 'parquetjs-lite' {
  interface ParquetCursor {
    next(): Promise<Record<string, unknown> | null>
  }
  interface ParquetReader {
    getCursor(): ParquetCursor
    getRowCount(): number | bigint
    close(): Promise<void>
  }
  const parquet: {
    ParquetReader: {openFile(path: string): Promise<ParquetReader>}
  }
  export default parquet
}

declare module 'parquetjs-lite/lib/types.js' {
  const types: {
    PARQUET_LOGICAL_TYPES: Record<string, {fromPrimitive?: (value: unknown) => unknown}>
  }
  export default types
}
