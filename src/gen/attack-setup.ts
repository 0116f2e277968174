/** What every attack launcher is given, and what it says of the attack it launched. */
import type {Rng} from '../core/index.js'
import type {TrafficEngine} from './engine.js'
import type {Ipv4Net} from './model.js'
import type {AttackKind} from './truth.js'

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

/** What the truth says about an attack besides its volumes. */
export interface AttackMeta {
  kind: AttackKind
  label: string
  src: string[]
  srcCount: number
  dst: string[]
  dstCount: number
  ports: number[]
  portCount: number
  params: Record<string, number | string>
}
