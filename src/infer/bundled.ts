import {fileURLToPath} from 'node:url'
import path from 'node:path'

/** The default model shipped in `fixtures/` (made by scripts/make-default-model.sh). */
export function bundledModelPath(): string {
  // src/infer/ and dist/infer/ are both two levels below the package root
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/model.onnx')
}
