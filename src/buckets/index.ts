export {attachAsn, cidrRange, enrichFlowsWithAsn, ensureAsnDatabase, lookupAsn, SPECIAL_RANGES} from './asn.js'
export type {AsnInfo} from './asn.js'
