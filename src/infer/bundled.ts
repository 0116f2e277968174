import {packageFile} from '../core/index.js'

/** The default model shipped in `fixtures/` (made by scripts/make-default-model.sh). */
export function bundledModelPath(): string {
  return packageFile('fixtures/model.onnx')
}
