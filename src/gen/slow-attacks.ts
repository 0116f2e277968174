/**
 * Low-and-slow attacks: the same behaviours as the fast ones (scans, SSH brute force, C2 beacons) at
 * rates that hide inside a 5-minute window — a handful of probes, login attempts or beacons per window
 * — and only stand out over an hour or more. The scanners and beaconing hosts are compromised
 * internal clients that keep their user's ordinary traffic (lateral reconnaissance and C2 blend into
 * it); the brute forcers are external, one login session every few minutes each. Each kind runs several instances with periods spread
 * log-evenly over a range (fastest first), so a detector's recall can be read against the rate.
 *
 * They are never injected by default (`SLOW_ATTACK_KINDS` is not part of `ATTACK_KINDS`), and each
 * draws from its own random stream, so asking for them does not move any other attack or the benign
 * traffic of the same seed by a single draw; the benign spawner shares the timeline with them.
 */
import type {Rng} from '../core/index.js'
import {attackMeta, type AttackLauncher, type AttackSetup} from './attack-setup.js'
import {INTERNAL_SERVICE_PORTS, ipv4Text, logUniform, uniform, uniformInt} from './model.js'
import {
  Actor,
  CLOSE_FIN_CLIENT,
  CLOSE_RST_CLIENT,
  SECOND,
  TcpSession,
  type Engine,
  type TcpPlan,
} from './sessions.js'
import {setRaw, startBeaconSession, startLoginSession, type BeaconShape} from './attack-sessions.js'
import {KIND_INDEX, SLOW_ATTACK_KINDS, type AttackKind, type AttackMeta, type SlowAttackKind} from './truth.js'

/** instances of each low-and-slow attack */
export const SLOW_INSTANCES = 4

/** Period range of each kind's instances, seconds between events (probes, login sessions, beacons). */
export const SLOW_PERIODS: Readonly<Record<SlowAttackKind, [number, number]>> = {
  'slow-scan': [30, 240],
  'slow-bruteforce': [90, 600],
  'slow-beacon': [150, 900],
}

/** relative jitter of each period (uniform ±) */
const JITTER = 0.15

/** packets per event, for sizing the benign budget around the attacks */
const PACKETS_PER_EVENT: Readonly<Record<SlowAttackKind, number>> = {
  'slow-scan': 9,
  'slow-bruteforce': 26,
  'slow-beacon': 15,
}


export function isSlowAttack(kind: AttackKind): kind is SlowAttackKind {
  return (SLOW_ATTACK_KINDS as readonly string[]).includes(kind)
}

/** Period of instance `i` of `kind`: log-evenly spaced from the fastest to the slowest. */
export function slowPeriodSec(kind: SlowAttackKind, i: number): number {
  const [lo, hi] = SLOW_PERIODS[kind]
  return lo * Math.pow(hi / lo, SLOW_INSTANCES <= 1 ? 0 : i / (SLOW_INSTANCES - 1))
}

/** Expected packets of all instances of `kind` over `durationSec`. */
export function expectedSlowPackets(kind: SlowAttackKind, durationSec: number): number {
  let events = 0
  for (let i = 0; i < SLOW_INSTANCES; i++) events += durationSec / slowPeriodSec(kind, i)
  return events * PACKETS_PER_EVENT[kind]
}

/** Next event time: one period later with ±JITTER, at least 1 µs. */
function nextTime(rng: Rng, t: number, periodSec: number): number {
  return t + Math.max(1, Math.round(periodSec * SECOND * uniform(rng, 1 - JITTER, 1 + JITTER)))
}

/** An event-driven actor that runs from `start` until the attack window ends (or the benign traffic stops). */
abstract class Paced extends Actor {
  protected done = 0
  protected readonly end: number

  constructor(
    protected readonly setup: AttackSetup,
    protected readonly periodSec: number,
    start: number,
  ) {
    super()
    this.t = start
    this.end = setup.startMicros + setup.durationMicros
  }

  step(e: Engine): boolean {
    if (e.stopped || this.t >= this.end) return false
    this.event()
    this.done++
    this.t = nextTime(this.setup.rng, this.t, this.periodSec)
    return this.t < this.end
  }

  protected abstract event(): void
}

/**
 * The description of a low-and-slow attack before its instances add their endpoints: the label says
 * `what` its instances do `every` lo–hi seconds.
 */
function slowMeta(kind: SlowAttackKind, what: string, ports: number[], params: Record<string, number>): AttackMeta {
  const label = `${SLOW_INSTANCES} low-and-slow ${what} every ${SLOW_PERIODS[kind].join('–')} s`
  return attackMeta({kind, label, src: [], dst: [], ports, params: {instances: SLOW_INSTANCES, ...params}})
}

/** Instance start: staggered over the first tenth of the attack window so instances do not move in step. */
function instanceStart(setup: AttackSetup, i: number): number {
  return setup.startMicros + Math.round(setup.durationMicros * 0.1 * (i / SLOW_INSTANCES) + uniform(setup.rng, 0, 30) * SECOND)
}

// ----- slow scan: banner-grab connections to one live internal host after another ---------------------

/**
 * A connect scan that hides in ordinary traffic: the compromised client walks the live internal hosts
 * in address order and opens one short connection per period to the service port (the handshake
 * completes, a line each way, the scanner closes), like `nmap -sT -T0` over a target list. No SYN
 * goes unanswered, so no single 5-minute window has the signature of a scan.
 */
class SlowSweep extends Paced {
  private next = 0

  constructor(
    setup: AttackSetup,
    periodSec: number,
    start: number,
    private readonly scanner: number,
    private readonly port: number,
    /** internal host indices in the order they are probed */
    private readonly targets: readonly number[],
    private readonly meta: AttackMeta,
  ) {
    super(setup, periodSec, start)
  }

  protected event(): void {
    const {eng, rng} = this.setup
    if (this.targets.length === 0) return
    const target = this.targets[this.next % this.targets.length]!
    this.next++
    const plan: TcpPlan = {
      cData: uniformInt(rng, 1, 2),
      sData: uniformInt(rng, 1, 2),
      c: {mss: 1460, full: 0, small: 0.9, smallMax: 120, firstLo: 20, firstHi: 90},
      s: {mss: 1460, full: 0, small: 0.9, smallMax: 200, firstLo: 30, firstHi: 180},
      rttMicros: logUniform(rng, 150, 2_000),
      paceMicros: 5_000,
      thinkProb: 0,
      pauseAt: -1,
      close: rng.next() < 0.5 ? CLOSE_FIN_CLIENT : CLOSE_RST_CLIENT,
      refused: false,
    }
    const s = new TcpSession(KIND_INDEX['slow-scan'], rng, plan)
    s.t = this.t
    setRaw(s, eng.hosts.v4[this.scanner]!, eng.hosts.v4[target]!, target, this.scanner)
    s.sPort = this.port
    if (eng.claimClientPort(s, this.scanner)) {
      eng.start(s)
      this.meta.dstCount++
    }
  }
}

function slowScan(setup: AttackSetup): AttackMeta {
  const {rng, eng} = setup
  const h = eng.hosts
  const meta = slowMeta('slow-scan', 'internal connect scans from compromised clients, one host', [], {})
  // live internal hosts in address order
  const live = Array.from({length: h.internal}, (_, i) => i).sort((a, b) => h.v4[a]! - h.v4[b]!)
  for (let i = 0; i < SLOW_INSTANCES; i++) {
    const period = slowPeriodSec('slow-scan', i)
    // a client of middling activity: its user's traffic goes on around the probes
    const scanner = h.clientRank[Math.floor(h.internal / 4) + rng.int(Math.max(1, Math.floor(h.internal / 2)))]!
    const port = ([445, 3389, 22, 5985] as const)[i % 4]!
    const from = rng.int(live.length)
    const targets = [...live.slice(from), ...live.slice(0, from)].filter((t) => t !== scanner)
    meta.src.push(ipv4Text(h.v4[scanner]!))
    meta.srcCount++
    if (!meta.ports.includes(port)) meta.ports.push(port)
    meta.params[`instance${i}`] = `${ipv4Text(h.v4[scanner]!)} port ${port} every ${period.toFixed(1)} s`
    eng.spawn(new SlowSweep(setup, period, instanceStart(setup, i), scanner, port, targets, meta))
  }
  meta.portCount = meta.ports.length
  return meta
}

/** One session per period (a login attempt, a beacon), counted in `meta.params[counter]` when it started. */
class SlowSessions extends Paced {
  constructor(
    setup: AttackSetup,
    periodSec: number,
    start: number,
    /** start the session at `t`; false when it could not (no free port) */
    private readonly startSession: (t: number) => boolean,
    private readonly counter: 'sessions' | 'beacons',
    private readonly meta: AttackMeta,
  ) {
    super(setup, periodSec, start)
  }

  protected event(): void {
    if (this.startSession(this.t)) this.meta.params[this.counter] = Number(this.meta.params[this.counter]) + 1
  }
}

// ----- slow SSH brute force: one login session per period from each attacker ------------------------

function slowBruteforce(setup: AttackSetup): AttackMeta {
  const {eng, rng} = setup
  const sshServers: number[] = []
  for (let k = 0; k < eng.hosts.internalServers.length; k++) {
    if (INTERNAL_SERVICE_PORTS[eng.hosts.internalServerService[k]!] === 22) sshServers.push(eng.hosts.internalServers[k]!)
  }
  if (sshServers.length === 0) sshServers.push(eng.hosts.internalServers[0]!)
  const meta = slowMeta('slow-bruteforce', 'SSH brute forces, one login session', [22], {sessions: 0})
  for (let i = 0; i < SLOW_INSTANCES; i++) {
    const period = slowPeriodSec('slow-bruteforce', i)
    const attacker = setup.freshExternal()
    const target = sshServers[i % sshServers.length]!
    meta.src.push(ipv4Text(attacker))
    meta.srcCount++
    if (!meta.dst.includes(ipv4Text(eng.hosts.v4[target]!))) meta.dst.push(ipv4Text(eng.hosts.v4[target]!))
    meta.dstCount = meta.dst.length
    meta.params[`instance${i}`] = `${ipv4Text(attacker)} -> ${ipv4Text(eng.hosts.v4[target]!)}:22 every ${period.toFixed(1)} s`
    // the start is drawn before the rtt: a seed's bytes depend on the order of draws
    const start = instanceStart(setup, i)
    const rtt = logUniform(rng, 20_000, 90_000)
    const kind = KIND_INDEX['slow-bruteforce']
    const login = (t: number): boolean => startLoginSession(eng, rng, kind, attacker, target, rtt, t)
    eng.spawn(new SlowSessions(setup, period, start, login, 'sessions', meta))
  }
  return meta
}

// ----- slow C2 beaconing: quiet internal hosts calling home every few minutes ------------------------

const SLOW_BEACON_SHAPE: BeaconShape = {cData: [3, 5], sData: [2, 4], serverFull: 0.2, serverFirstLo: 600}

function slowBeacon(setup: AttackSetup): AttackMeta {
  const {eng, rng} = setup
  const h = eng.hosts
  const meta = slowMeta('slow-beacon', 'C2 beacons to port 443, one', [443], {beacons: 0})
  const used = new Set<number>()
  for (let i = 0; i < SLOW_INSTANCES; i++) {
    const period = slowPeriodSec('slow-beacon', i)
    // infected hosts among the less active half of the clients, where a beacon is most of their traffic
    let host: number
    do host = h.clientRank[Math.floor(h.internal / 2) + rng.int(Math.max(1, h.internal - Math.floor(h.internal / 2)))]!
    while (used.has(host) && used.size < h.internal)
    used.add(host)
    const c2 = setup.freshExternal()
    meta.src.push(ipv4Text(h.v4[host]!))
    meta.dst.push(ipv4Text(c2))
    meta.srcCount++
    meta.dstCount++
    meta.params[`instance${i}`] = `${ipv4Text(h.v4[host]!)} -> ${ipv4Text(c2)}:443 every ${period.toFixed(1)} s`
    // the start is drawn before the rtt: a seed's bytes depend on the order of draws
    const start = instanceStart(setup, i)
    const rtt = logUniform(rng, 30_000, 120_000)
    const kind = KIND_INDEX['slow-beacon']
    const beacon = (t: number): boolean => startBeaconSession(eng, rng, kind, host, c2, rtt, t, SLOW_BEACON_SHAPE)
    eng.spawn(new SlowSessions(setup, period, start, beacon, 'beacons', meta))
  }
  return meta
}

export const SLOW_LAUNCHERS: Readonly<Record<SlowAttackKind, AttackLauncher>> = {
  'slow-scan': slowScan,
  'slow-bruteforce': slowBruteforce,
  'slow-beacon': slowBeacon,
}
