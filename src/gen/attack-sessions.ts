/**
 * Sessions that an attack and its low-and-slow variant share: a C2 beacon (one small HTTPS session from
 * an internal host to its C2 server, closed by the client's FIN), an SSH login attempt, and how attack
 * sessions get their raw IPv4 endpoints. Random draws happen in a fixed order, so a seed reproduces
 * the same bytes whichever attack calls them.
 */
import type {TrafficEngine} from './engine.js'
import {uniform, uniformInt} from './model.js'
import type {Rng} from '../core/index.js'
import {CLOSE_FIN_CLIENT, CLOSE_FIN_SERVER, CLOSE_RST_CLIENT, TcpSession, type Session, type TcpPlan} from './sessions.js'

/** TTL of packets from outside: a few hops away. */
export const TTL_EXTERNAL = 51

export function setRaw(s: Session, client: number, server: number, serverHost: number, clientHost = -1): void {
  s.family = 4
  s.c4 = client >>> 0
  s.s4 = server >>> 0
  s.ttlC = clientHost >= 0 ? 64 : TTL_EXTERNAL
  s.ttlS = serverHost >= 0 ? 64 : TTL_EXTERNAL
  s.sHost = serverHost
  s.cHost = clientHost
}

export interface BeaconShape {
  /** client and server data segments: uniform integers in [lo, hi] */
  cData: [number, number]
  sData: [number, number]
  /** share of full-size server segments, and the smallest first server segment */
  serverFull: number
  serverFirstLo: number
}

/** Start one beacon session at time `t`; false when no client port was free (nothing sent). */
export function startBeaconSession(
  eng: TrafficEngine,
  rng: Rng,
  kind: number,
  host: number,
  c2: number,
  rtt: number,
  t: number,
  shape: BeaconShape,
): boolean {
  const plan: TcpPlan = {
    cData: uniformInt(rng, shape.cData[0], shape.cData[1]),
    sData: uniformInt(rng, shape.sData[0], shape.sData[1]),
    c: {mss: 1460, full: 0, small: 0.7, smallMax: 300, firstLo: 180, firstHi: 517},
    s: {mss: 1460, full: shape.serverFull, small: 0.5, smallMax: 400, firstLo: shape.serverFirstLo, firstHi: 1460},
    rttMicros: rtt * uniform(rng, 0.9, 1.2),
    paceMicros: 15_000,
    thinkProb: 0,
    pauseAt: -1,
    close: CLOSE_FIN_CLIENT,
    refused: false,
  }
  const s = new TcpSession(kind, rng, plan)
  s.t = t
  setRaw(s, eng.hosts.v4[host]!, c2, -1, host)
  s.sPort = 443
  if (!eng.claimClientPort(s, host)) return false
  eng.start(s)
  return true
}

/**
 * Start one SSH login attempt from `attacker` (an external address) to internal host `target` at time
 * `t`: a short exchange that the server closes (or the client resets); false when no port was free.
 */
export function startLoginSession(eng: TrafficEngine, rng: Rng, kind: number, attacker: number, target: number, rtt: number, t: number): boolean {
  const plan: TcpPlan = {
    cData: uniformInt(rng, 8, 12),
    sData: uniformInt(rng, 8, 12),
    c: {mss: 1460, full: 0, small: 0.8, smallMax: 600, firstLo: 21, firstHi: 40},
    s: {mss: 1460, full: 0, small: 0.8, smallMax: 1100, firstLo: 21, firstHi: 40},
    rttMicros: rtt * uniform(rng, 0.9, 1.2),
    paceMicros: 30_000,
    thinkProb: 0,
    pauseAt: -1,
    close: rng.next() < 0.7 ? CLOSE_FIN_SERVER : CLOSE_RST_CLIENT,
    refused: false,
  }
  const s = new TcpSession(kind, rng, plan)
  s.t = t
  setRaw(s, attacker, eng.hosts.v4[target]!, target)
  s.sPort = 22
  if (!eng.claimClientPort(s, -1)) return false
  eng.start(s)
  return true
}
