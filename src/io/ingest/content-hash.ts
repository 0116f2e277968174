/**
 * The content identity of an ingested file: its BLAKE3 digest (256 bits, hex), the `b3sum` of the
 * file. BLAKE3 rather than SHA-256 because an ingest reads every byte of a capture and the hash is a
 * third of an ingest's CPU otherwise: on the 2-core bench machine (AMD EPYC with SHA extensions)
 * OpenSSL's SHA-256 runs at 1.7 GB/s and BLAKE3 at 6.0 GB/s (5.4 GB capture: 3.0 s → 0.9 s). Both
 * are cryptographic; a content identity needs collision resistance, not a particular algorithm.
 *
 * The native implementation (`@napi-rs/blake-hash`, prebuilt for the usual platforms) is used when it
 * loads; otherwise a WebAssembly one (`hash-wasm`, ~0.75 GB/s) gives the same digest, so a store's
 * identities never depend on the platform that computed them.
 */
import {createReadStream} from 'node:fs'
import {createRequire} from 'node:module'

export interface ContentHasher {
  update(bytes: Uint8Array): void
  /** lowercase hex */
  digest(): string
}

type NativeHasher = {update(input: Uint8Array): NativeHasher; digest(encoding: 'hex'): string}
type NativeModule = {Blake3Hasher: new () => NativeHasher}

let native: NativeModule | null | undefined

function loadNative(): NativeModule | null {
  if (native !== undefined) return native
  if (process.env.FLOWSCOPE_BLAKE3 === 'wasm') return (native = null)
  try {
    native = createRequire(import.meta.url)('@napi-rs/blake-hash') as NativeModule
  } catch {
    native = null
  }
  return native
}

/** Which implementation `createContentHasher` uses here. */
export function contentHashImplementation(): 'native' | 'wasm' {
  return loadNative() ? 'native' : 'wasm'
}

export async function createContentHasher(): Promise<ContentHasher> {
  const n = loadNative()
  if (n) {
    const h = new n.Blake3Hasher()
    return {
      update: (bytes) => void h.update(bytes),
      digest: () => h.digest('hex'),
    }
  }
  const {createBLAKE3} = await import('hash-wasm')
  const h = await createBLAKE3()
  h.init()
  return {
    update: (bytes) => void h.update(bytes),
    digest: () => h.digest('hex'),
  }
}

/** The BLAKE3 hex digest of a whole file, read in 4 MiB blocks. */
export async function contentHashFile(file: string): Promise<string> {
  const h = await createContentHasher()
  for await (const chunk of createReadStream(file, {highWaterMark: 4 << 20})) h.update(chunk as Buffer)
  return h.digest()
}

/** The BLAKE3 hex digest of some bytes (derived sources hash a description of what they were made from). */
export async function contentHashOf(bytes: Uint8Array | string): Promise<string> {
  const h = await createContentHasher()
  h.update(typeof bytes === 'string' ? Buffer.from(bytes) : bytes)
  return h.digest()
}
