/** What every attack launcher is given, and what it says of the attack it launched. */
import type {Rng} from '../core/index.js'
import type {TrafficEngine} from './engine.js'
import type {Ipv4Net} from './model.js'
import type {AttackMeta} from './truth.js'

export interface AttackSetup {
  eng: TrafficEngine
  rng: Rng
  /** first packet of the attack, µs */
  startMicros: number
  /** planned length of the attack window, µs (the C2 beacon ignores it) */
  durationMicros: number
  /** packets the attack should produce, roughly */
  budget: number
  net4: Ipv4Net
  /** a fresh external address that no model host uses */
  freshExternal: () => number
}

/** Starts one attack's spawners (or sessions) on the engine and describes it. */
export type AttackLauncher = (setup: AttackSetup) => AttackMeta

/**
 * An attack's description as its launcher first gives it: the counts start at the lengths of the
 * lists (a launcher whose targets are too many to list counts them up as it goes).
 */
export function attackMeta(d: Pick<AttackMeta, 'kind' | 'label' | 'src' | 'dst' | 'ports' | 'params'>): AttackMeta {
  return {kind: d.kind, label: d.label, src: d.src, srcCount: d.src.length, dst: d.dst, dstCount: d.dst.length, ports: d.ports, portCount: d.ports.length, params: d.params}
}
