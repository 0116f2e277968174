/**
 * Injected, labelled attacks. Each is launched once per run with a packet budget (a share of the
 * target) and a time window; spawners start its sessions at their times and run to the end of their
 * budget regardless of the packet target, so a label always describes a whole attack. The C2 beacon is
 * the exception: it beacons for the whole capture and stops with the benign traffic.
 */
import type {Rng} from '../core/index.js'
import type {TrafficEngine} from './engine.js'
import {exponential, INTERNAL_SERVICE_PORTS, ipv4Text, logUniform, randomPublicIpv4, uniform, uniformInt} from './model.js'
import {
  Actor,
  CLOSE_FIN_CLIENT,
  MAX_GAP_MICROS,
  PROBE_CLOSED,
  PROBE_FLOOD,
  PROBE_OPEN,
  PROBE_SILENT,
  ProbeSession,
  SECOND,
  StreamSession,
  TcpSession,
  type Engine,
} from './sessions.js'
import {setRaw, startBeaconSession, startLoginSession} from './attack-sessions.js'
import {SLOW_LAUNCHERS} from './slow-attacks.js'
import {attackMeta, type AttackLauncher, type AttackSetup} from './attack-setup.js'
import {KIND_INDEX, type AttackKind, type AttackMeta} from './truth.js'

/** Start one attack's spawners (or sessions) on the engine and describe it. */
export function launchAttack(kind: AttackKind, setup: AttackSetup): AttackMeta {
  return LAUNCHERS[kind](setup)
}

/** The port a model host serves, or -1. */
function servicePortOf(eng: TrafficEngine, host: number): number {
  const h = eng.hosts
  for (let k = 0; k < h.internalServers.length; k++) {
    if (h.internalServers[k] === host) return INTERNAL_SERVICE_PORTS[h.internalServerService[k]!]!
  }
  for (let k = 0; k < h.publicServers.length; k++) if (h.publicServers[k] === host) return 443
  return -1
}


/** Mean gap that spreads `count` events over `window` µs, at least 1 µs. */
function spread(window: number, count: number): number {
  return Math.max(1, window / Math.max(1, count))
}

/** An attack's actor: it keeps the attack's setup and takes its first step at the attack's start. */
abstract class AttackActor extends Actor {
  constructor(protected readonly setup: AttackSetup) {
    super()
    this.t = setup.startMicros
  }
}

/**
 * An actor that starts `events` events (probes, sessions) from the attack's start, spread over
 * `window` µs, and then ends, whatever the packet target.
 */
abstract class Burst extends AttackActor {
  private done = 0

  constructor(
    setup: AttackSetup,
    private readonly events: number,
    private readonly window: number,
  ) {
    super(setup)
  }

  step(_e: Engine): boolean {
    this.event(this.done)
    if (++this.done >= this.events) {
      this.finish()
      return false
    }
    this.t += this.gap(spread(this.window, this.events))
    return true
  }

  /** Start event `index` (0-based) at `t`. */
  protected abstract event(index: number): void

  /** After the last event. */
  protected finish(): void {}

  /** Gap to the next event, at least 1 µs: exponential around `mean`. */
  protected gap(mean: number): number {
    return Math.max(1, Math.round(exponential(this.setup.rng, mean)))
  }
}

/** Start one scan probe of `kind` at `t`; false when its tuple was taken (nothing sent). */
function startProbe(eng: TrafficEngine, rng: Rng, kind: number, mode: number, t: number, client: number, server: number, serverHost: number, cPort: number, sPort: number): boolean {
  const s = new ProbeSession(kind, mode, logUniform(rng, 150, 2_000))
  s.t = t
  setRaw(s, client, server, serverHost)
  s.cPort = cPort
  s.sPort = sPort
  if (!eng.claim(s)) return false
  eng.start(s)
  return true
}

// ----- horizontal scan: one source, one port, many internal addresses --------------------------------

class Sweep extends Burst {
  private offset: number

  constructor(
    setup: AttackSetup,
    private readonly scanner: number,
    private readonly sport: number,
    private readonly port: number,
    firstOffset: number,
    probes: number,
    private readonly meta: AttackMeta,
  ) {
    super(setup, probes, setup.durationMicros)
    this.offset = firstOffset
  }

  protected event(index: number): void {
    const {eng, rng, net4} = this.setup
    while ((this.offset & 255) === 0 || (this.offset & 255) === 255) this.offset = (this.offset + 1) % net4.size
    const off = this.offset
    this.offset = (this.offset + 1) % net4.size
    const host = eng.hosts.internalByOffset.get(off) ?? -1
    let mode = PROBE_SILENT
    if (host >= 0) {
      const open = servicePortOf(eng, host) === this.port || rng.next() < 0.04
      mode = open ? PROBE_OPEN : rng.next() < 0.75 ? PROBE_CLOSED : PROBE_SILENT
    }
    if (startProbe(eng, rng, KIND_INDEX['horizontal-scan'], mode, this.t, this.scanner, (net4.base + off) >>> 0, host, this.sport, this.port)) {
      this.meta.dstCount++
    }
    if (index === 0) this.meta.params.firstTarget = ipv4Text((net4.base + off) >>> 0)
    this.meta.params.lastTarget = ipv4Text((net4.base + off) >>> 0)
  }
}

function horizontalScan(setup: AttackSetup): AttackMeta {
  const {rng, net4, eng} = setup
  const usable = (net4.size / 256) * 254
  const probes = Math.max(8, Math.min(usable, Math.round(setup.budget / 1.3)))
  const scanner = setup.freshExternal()
  const sport = uniformInt(rng, 33000, 60999)
  const port = ([445, 3389, 22, 23, 5900] as const)[rng.int(5)]!
  // start the sweep at the first address of a populated /24
  const firstHost = eng.hosts.v4[eng.hosts.clientRank[rng.int(eng.hosts.internal)]!]!
  const firstOffset = (((firstHost - net4.base) >>> 0) & ~255) % net4.size
  const meta = attackMeta({
    kind: 'horizontal-scan',
    label: `horizontal TCP SYN scan of ${probes} internal addresses on port ${port} from ${ipv4Text(scanner)}`,
    src: [ipv4Text(scanner)],
    dst: [],
    ports: [port],
    params: {probes, sourcePort: sport},
  })
  eng.spawn(new Sweep(setup, scanner, sport, port, firstOffset, probes, meta))
  return meta
}

// ----- vertical scan: one source, one host, many ports ----------------------------------------------

class PortWalk extends Burst {
  constructor(
    setup: AttackSetup,
    private readonly scanner: number,
    private readonly sport: number,
    private readonly target: number,
    private readonly openPort: number,
    probes: number,
    private readonly stride: number,
    private readonly first: number,
    private readonly meta: AttackMeta,
  ) {
    super(setup, probes, setup.durationMicros)
  }

  protected event(index: number): void {
    const {eng, rng} = this.setup
    // a stride coprime with 65535 visits every port 1..65535 once, in scrambled order
    const port = ((this.first + index * this.stride) % 65535) + 1
    const mode = port === this.openPort ? PROBE_OPEN : rng.next() < 0.05 ? PROBE_SILENT : PROBE_CLOSED
    if (startProbe(eng, rng, KIND_INDEX['vertical-scan'], mode, this.t, this.scanner, eng.hosts.v4[this.target]!, this.target, this.sport, port)) {
      this.meta.portCount++
    }
  }
}

function verticalScan(setup: AttackSetup): AttackMeta {
  const {rng, eng} = setup
  const probes = Math.max(8, Math.min(65535, Math.round(setup.budget / 1.9)))
  const scanner = setup.freshExternal()
  const sport = uniformInt(rng, 33000, 60999)
  const k = rng.int(eng.hosts.internalServers.length)
  const target = eng.hosts.internalServers[k]!
  const openPort = INTERNAL_SERVICE_PORTS[eng.hosts.internalServerService[k]!]!
  const stride = 7919 // prime, coprime with 65535 = 3 * 5 * 17 * 257
  const first = rng.int(65535)
  const meta = attackMeta({
    kind: 'vertical-scan',
    label: `vertical TCP SYN scan of ${probes} ports of ${ipv4Text(eng.hosts.v4[target]!)} from ${ipv4Text(scanner)}`,
    src: [ipv4Text(scanner)],
    dst: [ipv4Text(eng.hosts.v4[target]!)],
    ports: [],
    params: {probes, sourcePort: sport, openPort},
  })
  eng.spawn(new PortWalk(setup, scanner, sport, target, openPort, probes, stride, first, meta))
  return meta
}

// ----- SYN flood: spoofed random sources to one server port -----------------------------------------

class Flood extends Burst {
  constructor(
    setup: AttackSetup,
    private readonly victim: number,
    private readonly port: number,
    probes: number,
    private readonly meta: AttackMeta,
  ) {
    super(setup, probes, setup.durationMicros)
  }

  protected event(): void {
    const {eng, rng} = this.setup
    const answered = rng.next() < 0.85
    const s = new ProbeSession(KIND_INDEX['syn-flood'], answered ? PROBE_FLOOD : PROBE_SILENT, logUniform(rng, 50, 500), rng.next() < 0.4 ? 1 : 0)
    s.t = this.t
    s.sPort = this.port
    // spoofed sources are drawn until the tuple is fresh, so every SYN is its own flow
    for (let i = 0; i < 16; i++) {
      setRaw(s, randomPublicIpv4(rng), eng.hosts.v4[this.victim]!, this.victim)
      s.cPort = uniformInt(rng, 1024, 65535)
      if (eng.claim(s)) {
        eng.start(s)
        this.meta.srcCount++
        break
      }
    }
  }
}

function synFlood(setup: AttackSetup): AttackMeta {
  const {rng, eng} = setup
  const probes = Math.max(8, Math.round(setup.budget / 2.2))
  const victim = eng.hosts.publicServers[0]!
  const port = rng.next() < 0.5 ? 443 : 80
  const meta = attackMeta({
    kind: 'syn-flood',
    label: `SYN flood of ${probes} spoofed SYNs to ${ipv4Text(eng.hosts.v4[victim]!)}:${port}`,
    src: [],
    dst: [ipv4Text(eng.hosts.v4[victim]!)],
    ports: [port],
    params: {probes, spoofed: 'random public IPv4 sources and ports, one SYN each'},
  })
  eng.spawn(new Flood(setup, victim, port, probes, meta))
  return meta
}

// ----- UDP amplification: many reflectors' large responses to one victim ----------------------------

const REFLECTOR_SERVICES = [
  {port: 53, lo: 1200, hi: 1472},
  {port: 123, lo: 440, hi: 468},
  {port: 11211, lo: 1400, hi: 1472},
] as const

class Reflectors extends Burst {
  constructor(
    setup: AttackSetup,
    private readonly victim: number,
    reflectors: number,
    private readonly perReflector: number,
    private readonly meta: AttackMeta,
    private readonly used: Set<number>,
  ) {
    super(setup, reflectors, setup.durationMicros * 0.25)
  }

  protected event(): void {
    const {eng, rng, durationMicros} = this.setup
    const svc = REFLECTOR_SERVICES[rng.int(REFLECTOR_SERVICES.length)]!
    const k = Math.max(1, Math.round(this.perReflector * uniform(rng, 0.5, 1.5)))
    const s = new StreamSession(KIND_INDEX['udp-amplification'], rng, {
      cCount: k,
      sCount: 0,
      cLo: svc.lo,
      cHi: svc.hi,
      sLo: 0,
      sHi: 0,
      paceMicros: Math.min(MAX_GAP_MICROS / 3, (durationMicros * 0.7) / k),
      pauseAt: -1,
    })
    s.t = this.t
    s.cPort = svc.port
    for (let i = 0; i < 16; i++) {
      setRaw(s, this.setup.freshExternal(), eng.hosts.v4[this.victim]!, this.victim)
      s.sPort = uniformInt(rng, 1024, 65535)
      if (eng.claim(s)) {
        eng.start(s)
        this.meta.srcCount++
        if (this.meta.src.length < 10) this.meta.src.push(ipv4Text(s.c4))
        this.used.add(svc.port)
        break
      }
    }
  }

  protected override finish(): void {
    this.meta.ports.push(...[...this.used].sort((a, b) => a - b))
    this.meta.portCount = this.meta.ports.length
  }
}

function udpAmplification(setup: AttackSetup): AttackMeta {
  const {eng, rng} = setup
  const reflectors = Math.max(3, Math.min(2000, Math.round(setup.budget / 25)))
  const perReflector = Math.max(1, setup.budget / reflectors)
  const victim = eng.hosts.clientRank[rng.int(Math.min(50, eng.hosts.internal))]!
  const meta = attackMeta({
    kind: 'udp-amplification',
    label: `UDP amplification from ${reflectors} reflectors (DNS/NTP/memcached) to ${ipv4Text(eng.hosts.v4[victim]!)}`,
    src: [],
    dst: [ipv4Text(eng.hosts.v4[victim]!)],
    ports: [],
    params: {reflectors, note: 'ports are the reflectors\u2019 source ports'},
  })
  eng.spawn(new Reflectors(setup, victim, reflectors, perReflector, meta, new Set()))
  return meta
}

// ----- SSH brute force: many short sessions from one source to port 22 ------------------------------

class BruteForce extends Burst {
  constructor(
    setup: AttackSetup,
    private readonly attacker: number,
    private readonly target: number,
    sessions: number,
    private readonly rtt: number,
    private readonly meta: AttackMeta,
  ) {
    super(setup, sessions, setup.durationMicros)
  }

  protected event(): void {
    const {eng, rng} = this.setup
    if (startLoginSession(eng, rng, KIND_INDEX['ssh-bruteforce'], this.attacker, this.target, this.rtt, this.t)) {
      this.meta.params.sessions = Number(this.meta.params.sessions) + 1
    }
  }

  /** login attempts come at a steadier pace than probes */
  protected override gap(mean: number): number {
    return Math.max(1, Math.round(mean * uniform(this.setup.rng, 0.5, 1.5)))
  }
}

function sshBruteforce(setup: AttackSetup): AttackMeta {
  const {eng, rng} = setup
  const sessions = Math.max(2, Math.round(setup.budget / 24))
  const attacker = setup.freshExternal()
  let target = eng.hosts.internalServers[0]!
  for (let k = 0; k < eng.hosts.internalServers.length; k++) {
    if (INTERNAL_SERVICE_PORTS[eng.hosts.internalServerService[k]!] === 22) {
      target = eng.hosts.internalServers[k]!
      break
    }
  }
  const meta = attackMeta({
    kind: 'ssh-bruteforce',
    label: `SSH brute force: ${sessions} login sessions from ${ipv4Text(attacker)} to ${ipv4Text(eng.hosts.v4[target]!)}:22`,
    src: [ipv4Text(attacker)],
    dst: [ipv4Text(eng.hosts.v4[target]!)],
    ports: [22],
    params: {sessions: 0},
  })
  eng.spawn(new BruteForce(setup, attacker, target, sessions, logUniform(rng, 20_000, 90_000), meta))
  return meta
}

// ----- C2 beaconing: one internal host -> one external host every ~60 s -----------------------------

const BEACON_PERIOD_SEC = 60
const BEACON_JITTER_SEC = 3

class Beacon extends AttackActor {
  constructor(
    setup: AttackSetup,
    private readonly host: number,
    private readonly c2: number,
    private readonly rtt: number,
    private readonly meta: AttackMeta,
  ) {
    super(setup)
  }

  step(e: Engine): boolean {
    if (e.stopped) return false
    const {eng, rng} = this.setup
    if (startBeaconSession(eng, rng, KIND_INDEX['c2-beacon'], this.host, this.c2, this.rtt, this.t, {cData: [4, 6], sData: [3, 5], serverFull: 0.3, serverFirstLo: 1200})) {
      this.meta.params.beacons = Number(this.meta.params.beacons) + 1
    }
    this.t += Math.round((BEACON_PERIOD_SEC + uniform(rng, -BEACON_JITTER_SEC, BEACON_JITTER_SEC)) * SECOND)
    return true
  }
}

function c2Beacon(setup: AttackSetup): AttackMeta {
  const {eng, rng} = setup
  const h = eng.hosts
  const host = h.clientRank[Math.floor(h.internal / 3) + rng.int(Math.max(1, Math.floor(h.internal / 3)))]!
  const c2 = setup.freshExternal()
  const meta = attackMeta({
    kind: 'c2-beacon',
    label: `C2 beaconing from ${ipv4Text(h.v4[host]!)} to ${ipv4Text(c2)}:443 every ${BEACON_PERIOD_SEC} s ± ${BEACON_JITTER_SEC} s`,
    src: [ipv4Text(h.v4[host]!)],
    dst: [ipv4Text(c2)],
    ports: [443],
    params: {periodSec: BEACON_PERIOD_SEC, jitterSec: BEACON_JITTER_SEC, beacons: 0},
  })
  eng.spawn(new Beacon(setup, host, c2, logUniform(rng, 30_000, 120_000), meta))
  return meta
}

// ----- exfiltration: one long high-volume upload ----------------------------------------------------

function exfiltration(setup: AttackSetup): AttackMeta {
  const {eng, rng} = setup
  const h = eng.hosts
  const host = h.clientRank[rng.int(h.internal)]!
  const server = setup.freshExternal()
  const total = Math.max(30, Math.round(setup.budget))
  const cData = Math.max(1, Math.round((total * 2) / 3))
  const sData = Math.max(1, total - cData - 5)
  const s = new TcpSession(KIND_INDEX.exfiltration, rng, {
    cData,
    sData,
    c: {mss: 1460, full: 0.97, small: 0.03, smallMax: 1000, firstLo: 200, firstHi: 517},
    s: {mss: 1460, full: 0, small: 0.02, smallMax: 200, firstLo: 50, firstHi: 200},
    rttMicros: logUniform(rng, 20_000, 100_000),
    paceMicros: setup.durationMicros / (cData + sData),
    thinkProb: 0,
    pauseAt: -1,
    close: CLOSE_FIN_CLIENT,
    refused: false,
  })
  s.t = setup.startMicros
  setRaw(s, h.v4[host]!, server, -1, host)
  s.sPort = 443
  if (eng.claimClientPort(s, host)) eng.start(s)
  return attackMeta({
    kind: 'exfiltration',
    label: `exfiltration: one long TCP upload from ${ipv4Text(h.v4[host]!)} to ${ipv4Text(server)}:443`,
    src: [ipv4Text(h.v4[host]!)],
    dst: [ipv4Text(server)],
    ports: [443],
    params: {plannedDurationSec: Math.round(setup.durationMicros / SECOND), uploadPackets: cData},
  })
}

const LAUNCHERS: Readonly<Record<AttackKind, AttackLauncher>> = {
  'horizontal-scan': horizontalScan,
  'vertical-scan': verticalScan,
  'syn-flood': synFlood,
  'udp-amplification': udpAmplification,
  'ssh-bruteforce': sshBruteforce,
  'c2-beacon': c2Beacon,
  exfiltration,
  ...SLOW_LAUNCHERS,
}
