/**
 * Benign background traffic: one spawner starts sessions as a Poisson process until the packet target
 * is reached. Clients and servers are drawn by Zipf popularity; TCP and QUIC sizes are Pareto with a
 * cap; about 15% of sessions are IPv6.
 */
import type {Rng} from '../core/index.js'
import type {TrafficEngine} from './engine.js'
import {
  cappedParetoMean,
  exponential,
  INTERNAL_SERVICE_PORTS,
  logUniform,
  pareto,
  uniform,
  uniformInt,
} from './model.js'
import {
  Actor,
  CLOSE_FIN_CLIENT,
  CLOSE_FIN_SERVER,
  CLOSE_RST_CLIENT,
  CLOSE_RST_SERVER,
  ExchangeSession,
  SECOND,
  StreamSession,
  TcpSession,
  type DirectionPayload,
  type Engine,
  type Session,
} from './sessions.js'
import {KIND_INDEX} from './truth.js'

/** share of benign sessions over IPv6; the attacks are IPv4, so about 15% of all packets are IPv6 */
export const IPV6_SHARE = 0.18

const SHARE_TCP = 0.45
const SHARE_DNS = 0.33
const SHARE_UDP = 0.14
// the rest is ICMP echo

const TCP_XM = 3
const TCP_ALPHA = 1.15
const QUIC_XM = 2
const QUIC_ALPHA = 1.3
const OTHER_EXTERNAL_PORTS = [22, 25, 993, 8080, 5222, 8443, 465] as const
const PUBLIC_SERVER_PORTS = [443, 443, 443, 80, 25] as const

// TCP payload shapes per direction, by family (IPv4 MSS 1460, IPv6 MSS 1440)
const QUIET: readonly DirectionPayload[] = [1460, 1440].map((mss) => ({mss, full: 0.02, small: 0.08, smallMax: 300, firstLo: 80, firstHi: 900}))
const BULK: readonly DirectionPayload[] = [1460, 1440].map((mss) => ({mss, full: 0.85, small: 0.1, smallMax: 1200, firstLo: 200, firstHi: 1400}))
const CHATTY: readonly DirectionPayload[] = [1460, 1440].map((mss) => ({mss, full: 0.05, small: 0.6, smallMax: 400, firstLo: 40, firstHi: 500}))

/** Expected packets per benign session (sizes the arrival rate so the target lands near the timeline's end). */
export function expectedBenignPackets(cap: number): number {
  const tcp = cappedParetoMean(TCP_XM, TCP_ALPHA, cap) + 4.5
  const dns = 1.15 * 2 * 0.98
  const quic = cappedParetoMean(QUIC_XM, QUIC_ALPHA, cap)
  const udp = 0.45 * quic + 0.15 * 2 * 2.5 * 0.98 + 0.15 * 2 * 10.5 + 0.25 * 4
  const icmp = 2 * 4.75 * 0.93
  return SHARE_TCP * tcp + SHARE_DNS * dns + SHARE_UDP * udp + (1 - SHARE_TCP - SHARE_DNS - SHARE_UDP) * icmp
}

export class BenignSpawner extends Actor {
  private readonly eng: TrafficEngine
  private readonly rng: Rng
  private readonly meanGap: number
  private readonly cap: number

  /** `meanGapMicros`: mean time between session starts; `cap`: most data packets in one session */
  constructor(eng: TrafficEngine, rng: Rng, startMicros: number, meanGapMicros: number, cap: number) {
    super()
    this.eng = eng
    this.rng = rng
    this.t = startMicros
    this.meanGap = meanGapMicros
    this.cap = cap
  }

  step(e: Engine): boolean {
    if (e.stopped) return false
    const r = this.rng.next()
    const s =
      r < SHARE_TCP
        ? this.tcp()
        : r < SHARE_TCP + SHARE_DNS
          ? this.dns()
          : r < SHARE_TCP + SHARE_DNS + SHARE_UDP
            ? this.udp()
            : this.icmp()
    if (s !== undefined) this.eng.start(s)
    this.t += Math.max(1, Math.round(exponential(this.rng, this.meanGap)))
    return true
  }

  private family(): 4 | 6 {
    return this.rng.next() < IPV6_SHARE ? 6 : 4
  }

  private internalClient(): number {
    const h = this.eng.hosts
    return h.clientRank[h.clientZipf.sample(this.rng)]!
  }

  private externalServer(): number {
    const h = this.eng.hosts
    return h.externalServers[h.externalServerZipf.sample(this.rng)]!
  }

  /** Put a session between two hosts at the spawner's time and claim a client port. */
  private place(s: Session, family: 4 | 6, client: number, server: number, serverPort: number): Session | undefined {
    if (client === server) return undefined
    s.t = this.t
    s.sPort = serverPort
    this.eng.setHosts(s, family, client, server)
    return this.eng.claimClientPort(s, client) ? s : undefined
  }

  private tcp(): Session | undefined {
    const rng = this.rng
    const h = this.eng.hosts
    const family = this.family()
    let client: number
    let server: number
    let port: number
    let external: boolean
    const where = rng.next()
    if (where < 0.62) {
      client = this.internalClient()
      server = this.externalServer()
      const u = rng.next()
      port = u < 0.7 ? 443 : u < 0.9 ? 80 : OTHER_EXTERNAL_PORTS[rng.int(OTHER_EXTERNAL_PORTS.length)]!
      external = true
    } else if (where < 0.88) {
      client = this.internalClient()
      const k = h.internalServerZipf.sample(rng)
      server = h.internalServers[k]!
      port = INTERNAL_SERVICE_PORTS[h.internalServerService[k]!]!
      external = false
    } else {
      client = h.externalClients[h.externalClientZipf.sample(rng)]!
      server = h.publicServers[rng.int(h.publicServers.length)]!
      port = PUBLIC_SERVER_PORTS[rng.int(PUBLIC_SERVER_PORTS.length)]!
      external = true
    }
    const n = Math.max(2, Math.min(this.cap, Math.floor(pareto(rng, TCP_XM, TCP_ALPHA))))
    const style = rng.next()
    const clientShare = style < 0.6 ? 0.3 : style < 0.7 ? 0.7 : 0.5
    const cData = Math.max(1, Math.round(n * clientShare))
    const sData = Math.max(1, n - cData)
    const f = family === 4 ? 0 : 1
    const c = style < 0.6 ? QUIET[f]! : style < 0.7 ? BULK[f]! : CHATTY[f]!
    const sv = style < 0.6 ? BULK[f]! : style < 0.7 ? QUIET[f]! : CHATTY[f]!
    const rtt = external ? logUniform(rng, 4_000, 180_000) : logUniform(rng, 150, 2_000)
    const pace = Math.min(logUniform(rng, 200, 250_000), (600 * SECOND) / n)
    const closeDraw = rng.next()
    const close =
      closeDraw < 0.55 ? CLOSE_FIN_CLIENT : closeDraw < 0.85 ? CLOSE_FIN_SERVER : closeDraw < 0.93 ? CLOSE_RST_CLIENT : CLOSE_RST_SERVER
    const s = new TcpSession(KIND_INDEX['benign-tcp'], rng, {
      cData,
      sData,
      c,
      s: sv,
      rttMicros: rtt,
      paceMicros: pace,
      thinkProb: n < 100 ? 0.04 : 0,
      pauseAt: n >= 8 && rng.next() < 0.04 ? Math.floor(n / 2) : -1,
      close,
      refused: rng.next() < 0.03,
    })
    return this.place(s, family, client, server, port)
  }

  private dns(): Session | undefined {
    const rng = this.rng
    const h = this.eng.hosts
    const family = this.family()
    const recursive = rng.next() < 0.75
    const client = recursive ? this.internalClient() : h.resolvers[rng.int(h.resolvers.length)]!
    const server = recursive ? h.resolvers[rng.int(h.resolvers.length)]! : h.authServers[rng.int(h.authServers.length)]!
    const s = new ExchangeSession(KIND_INDEX['benign-dns'], 17, rng, {
      requests: rng.next() < 0.15 ? 2 : 1,
      reqLo: 28,
      reqHi: 64,
      respLo: 44,
      respHi: 420,
      rttMicros: recursive ? logUniform(rng, 200, 3_000) : logUniform(rng, 8_000, 120_000),
      loss: 0.02,
      pairGapMicros: uniform(rng, 100, 2_000),
      retryMicros: uniform(rng, 1, 3) * SECOND,
    })
    return this.place(s, family, client, server, 53)
  }

  private udp(): Session | undefined {
    const rng = this.rng
    const h = this.eng.hosts
    const family = this.family()
    const u = rng.next()
    const kind = KIND_INDEX['benign-udp']
    if (u < 0.45) {
      // QUIC: heavy-tailed like TCP, mostly downloads
      const n = Math.max(2, Math.min(this.cap, Math.floor(pareto(rng, QUIC_XM, QUIC_ALPHA))))
      const cCount = Math.max(1, Math.round(n * 0.35))
      const s = new StreamSession(kind, rng, {
        cCount,
        sCount: Math.max(1, n - cCount),
        cLo: 30,
        cHi: 400,
        sLo: 200,
        sHi: family === 4 ? 1350 : 1330,
        paceMicros: Math.min(logUniform(rng, 300, 100_000), (600 * SECOND) / n),
        pauseAt: n >= 8 && rng.next() < 0.03 ? Math.floor(n / 2) : -1,
      })
      return this.place(s, family, this.internalClient(), this.externalServer(), 443)
    }
    if (u < 0.6) {
      const s = new ExchangeSession(kind, 17, rng, {
        requests: uniformInt(rng, 1, 4),
        reqLo: 48,
        reqHi: 48,
        respLo: 48,
        respHi: 48,
        rttMicros: logUniform(rng, 5_000, 80_000),
        loss: 0.02,
        pairGapMicros: uniform(rng, 1, 8) * SECOND,
        retryMicros: uniform(rng, 1, 4) * SECOND,
      })
      return this.place(s, family, this.internalClient(), this.externalServer(), 123)
    }
    if (u < 0.75) {
      // SNMP polling from the monitoring host
      const s = new ExchangeSession(kind, 17, rng, {
        requests: uniformInt(rng, 1, 20),
        reqLo: 40,
        reqHi: 90,
        respLo: 40,
        respHi: 600,
        rttMicros: logUniform(rng, 300, 5_000),
        loss: 0.01,
        pairGapMicros: uniform(rng, 5_000, 50_000),
        retryMicros: SECOND,
      })
      const target = h.internalServers[rng.int(h.internalServers.length)]!
      return this.place(s, family, h.clientRank[0]!, target, 161)
    }
    // syslog: one-way datagrams to the log server
    const s = new StreamSession(kind, rng, {
      cCount: Math.max(1, Math.min(200, Math.floor(pareto(rng, 1, 1.5)))),
      sCount: 0,
      cLo: 80,
      cHi: 400,
      sLo: 0,
      sHi: 0,
      paceMicros: logUniform(rng, 50_000, 3 * SECOND),
      pauseAt: -1,
    })
    return this.place(s, family, this.internalClient(), h.internalServers[0]!, 514)
  }

  private icmp(): Session | undefined {
    const rng = this.rng
    const h = this.eng.hosts
    const family = this.family()
    const client = this.internalClient()
    const external = rng.next() < 0.5
    const server = external ? this.externalServer() : rng.int(h.internal)
    if (client === server) return undefined
    const s = new ExchangeSession(KIND_INDEX['benign-icmp'], family === 4 ? 1 : 58, rng, {
      requests: rng.next() < 0.5 ? 4 : uniformInt(rng, 1, 10),
      reqLo: 56,
      reqHi: 56,
      respLo: 0,
      respHi: -1,
      rttMicros: external ? logUniform(rng, 4_000, 180_000) : logUniform(rng, 150, 2_000),
      loss: rng.next() < 0.03 ? 1 : 0.05,
      pairGapMicros: 1 * SECOND,
      retryMicros: 1 * SECOND,
    })
    s.t = this.t
    this.eng.setHosts(s, family, client, server)
    // an echo flow's key has no ports: one ping session per host pair at a time
    return this.eng.claim(s) ? s : undefined
  }
}
