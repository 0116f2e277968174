import type {ATTACK_KINDS} from '../../src/gen/truth.js'

/**
 * The incident each of the generator's attacks should be (src/infer/INCIDENTS.md): its type, its role,
 * and whether its entity is the attack's source (the initiator) or its destination (a flood's victim).
 */
export const EXPECTED_INCIDENT: Readonly<Record<(typeof ATTACK_KINDS)[number], readonly [type: string, role: string, entity: 'src' | 'dst']>> = {
  'horizontal-scan': ['horizontal_scan', 'scanner', 'src'],
  'vertical-scan': ['vertical_scan', 'scanner', 'src'],
  'syn-flood': ['syn_flood', 'victim', 'dst'],
  'udp-amplification': ['udp_amplification', 'victim', 'dst'],
  'ssh-bruteforce': ['brute_force', 'attacker', 'src'],
  'c2-beacon': ['beaconing', 'beacon-client', 'src'],
  exfiltration: ['exfiltration', 'exfiltrator', 'src'],
}
