/**
 * The incident rules applied to a run's merged incidents: reads the flow evidence of each (its entity
 * over its span) in one pass, then decides (incident-rules.ts). Handed to `writeIncidents` as its
 * `decide`, inside the run's transaction.
 */
import {readIncidentEvidence} from '../io/index.js'
import type {DecideIncidents, IncidentDecision, MergedIncident} from '../io/index.js'
import {decideFromEvidence} from './incident-rules.js'

export const decideIncidents: DecideIncidents = async (store, incidents: readonly MergedIncident[]): Promise<Map<string, IncidentDecision>> => {
  const evidence = await readIncidentEvidence(
    store,
    incidents.map((m) => ({key: m.incidentId, network: m.network, entity: m.entity, lo: m.firstSeen, hi: m.lastSeen})),
  )
  return decideFromEvidence(incidents.map((m) => ({incident: m, evidence: evidence.get(m.incidentId)!})))
}
