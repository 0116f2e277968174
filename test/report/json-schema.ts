// the validator is shared by every command's schema test; it lives in test/helpers now
export {validate} from '../helpers/json-schema.js'
export type {Schema} from '../helpers/json-schema.js'
