/**
 * Test helper: byte builders for hand-made NetFlow v9, IPFIX and sFlow datagrams, for the cases real
 * captures do not cover (withdrawal, held data, every time and sampling field, malformed lengths).
 */

export class ByteWriter {
  private readonly out: number[] = []

  u8(v: number): this {
    this.out.push(v & 0xff)
    return this
  }

  u16(v: number): this {
    return this.u8(v >>> 8).u8(v)
  }

  u32(v: number): this {
    return this.u16(Math.floor(v / 65536) & 0xffff).u16(v & 0xffff)
  }

  u64(v: number): this {
    return this.u32(Math.floor(v / 4_294_967_296)).u32(v % 4_294_967_296)
  }

  /** unsigned integer of `len` bytes (reduced-size encoding) */
  uint(v: number, len: number): this {
    for (let i = len - 1; i >= 0; i--) this.u8(Math.floor(v / 256 ** i) % 256)
    return this
  }

  ipv4(text: string): this {
    for (const p of text.split('.')) this.u8(Number(p))
    return this
  }

  /** full (uncompressed) IPv6 text: 8 groups */
  ipv6(text: string): this {
    for (const g of expandV6(text)) this.u16(g)
    return this
  }

  bytes(b: ArrayLike<number>): this {
    for (let i = 0; i < b.length; i++) this.u8(b[i]!)
    return this
  }

  zeros(n: number): this {
    for (let i = 0; i < n; i++) this.u8(0)
    return this
  }

  get length(): number {
    return this.out.length
  }

  build(): Uint8Array {
    return Uint8Array.from(this.out)
  }
}

function expandV6(text: string): number[] {
  const [head = '', tail] = text.split('::')
  const h = head === '' ? [] : head.split(':').map((g) => parseInt(g, 16))
  const t = tail === undefined || tail === '' ? [] : tail.split(':').map((g) => parseInt(g, 16))
  return tail === undefined ? h : [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t]
}

export interface FieldSpec {
  id: number
  len: number
  enterprise?: number
}

/** A set (IPFIX) / flowset (v9): id, length, body, zero padding. */
export function set(id: number, body: Uint8Array, pad = 0): Uint8Array {
  return new ByteWriter()
    .u16(id)
    .u16(4 + body.length + pad)
    .bytes(body)
    .zeros(pad)
    .build()
}

export function templateRecord(id: number, fields: FieldSpec[], ipfix = true): Uint8Array {
  const w = new ByteWriter().u16(id).u16(fields.length)
  for (const f of fields) {
    if (ipfix && f.enterprise !== undefined) w.u16(f.id | 0x8000).u16(f.len).u32(f.enterprise)
    else w.u16(f.id).u16(f.len)
  }
  return w.build()
}

export function ipfixOptionsTemplateRecord(id: number, scope: FieldSpec[], options: FieldSpec[]): Uint8Array {
  const w = new ByteWriter().u16(id).u16(scope.length + options.length).u16(scope.length)
  for (const f of [...scope, ...options]) {
    if (f.enterprise !== undefined) w.u16(f.id | 0x8000).u16(f.len).u32(f.enterprise)
    else w.u16(f.id).u16(f.len)
  }
  return w.build()
}

export function v9OptionsTemplateRecord(id: number, scope: FieldSpec[], options: FieldSpec[]): Uint8Array {
  const w = new ByteWriter().u16(id).u16(scope.length * 4).u16(options.length * 4)
  for (const f of [...scope, ...options]) w.u16(f.id).u16(f.len)
  return w.build()
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const w = new ByteWriter()
  for (const p of parts) w.bytes(p)
  return w.build()
}

export function ipfixMessage(domain: number, exportTime: number, sets: Uint8Array[], sequence = 0): Uint8Array {
  const body = concat(...sets)
  return new ByteWriter()
    .u16(10)
    .u16(16 + body.length)
    .u32(exportTime)
    .u32(sequence)
    .u32(domain)
    .bytes(body)
    .build()
}

export function v9Packet(sourceId: number, unixSecs: number, sysUptimeMillis: number, sets: Uint8Array[]): Uint8Array {
  return new ByteWriter()
    .u16(9)
    .u16(sets.length)
    .u32(sysUptimeMillis)
    .u32(unixSecs)
    .u32(0)
    .u32(sourceId)
    .bytes(concat(...sets))
    .build()
}

/** sFlow v5 datagram from an IPv4 agent. */
export function sflowDatagram(agent: string, subAgentId: number, sequence: number, samples: Uint8Array[]): Uint8Array {
  return new ByteWriter()
    .u32(5)
    .u32(1)
    .ipv4(agent)
    .u32(subAgentId)
    .u32(sequence)
    .u32(123_456)
    .u32(samples.length)
    .bytes(concat(...samples))
    .build()
}

/** An sFlow structure with XDR framing: format (enterprise << 12 | format), length, body. */
export function xdr(format: number, body: Uint8Array, enterprise = 0): Uint8Array {
  return new ByteWriter()
    .u32(enterprise * 4096 + format)
    .u32(body.length)
    .bytes(body)
    .build()
}

export interface FlowSampleSpec {
  sequence: number
  sourceIndex: number
  samplingRate: number
  samplePool: number
  drops?: number
  records: Uint8Array[]
  expanded?: boolean
}

export function flowSample(s: FlowSampleSpec): Uint8Array {
  const w = new ByteWriter().u32(s.sequence)
  if (s.expanded) w.u32(0).u32(s.sourceIndex)
  else w.u32(s.sourceIndex)
  w.u32(s.samplingRate).u32(s.samplePool).u32(s.drops ?? 0)
  if (s.expanded) w.u32(0).u32(1).u32(0).u32(2)
  else w.u32(1).u32(2)
  w.u32(s.records.length).bytes(concat(...s.records))
  return xdr(s.expanded ? 3 : 1, w.build())
}

/** Sampled IPv4 flow record (format 3). */
export function sampledIpv4(len: number, proto: number, src: string, dst: string, sport: number, dport: number, flags = 0): Uint8Array {
  return xdr(
    3,
    new ByteWriter().u32(len).u32(proto).ipv4(src).ipv4(dst).u32(sport).u32(dport).u32(flags).u32(0).build(),
  )
}

/** Sampled IPv6 flow record (format 4). */
export function sampledIpv6(len: number, proto: number, src: string, dst: string, sport: number, dport: number): Uint8Array {
  return xdr(4, new ByteWriter().u32(len).u32(proto).ipv6(src).ipv6(dst).u32(sport).u32(dport).u32(0).u32(0).build())
}

/** Raw packet header flow record (format 1); the header is padded to 4 bytes as XDR requires. */
export function rawHeader(protocol: number, frameLength: number, stripped: number, header: Uint8Array): Uint8Array {
  const pad = (4 - (header.length % 4)) % 4
  return xdr(
    1,
    new ByteWriter().u32(protocol).u32(frameLength).u32(stripped).u32(header.length).bytes(header).zeros(pad).build(),
  )
}

/** Ethernet + IPv4 + TCP header bytes (no payload), IPv4 total length `ipLength`. */
export function ethIpv4Tcp(src: string, dst: string, sport: number, dport: number, ipLength: number, flags = 0x18): Uint8Array {
  return new ByteWriter()
    .bytes([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11])
    .u16(0x0800)
    .u8(0x45)
    .u8(0)
    .u16(ipLength)
    .u16(1)
    .u16(0)
    .u8(64)
    .u8(6)
    .u16(0)
    .ipv4(src)
    .ipv4(dst)
    .u16(sport)
    .u16(dport)
    .u32(1)
    .u32(0)
    .u8(0x50)
    .u8(flags)
    .u16(1024)
    .u16(0)
    .u16(0)
    .build()
}
