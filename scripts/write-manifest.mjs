// Writes oclif.manifest.json after a build, so a command starts without importing every other
// command's module (and their heavy dependencies) just to read flags: oclif reads the manifest instead.
import {Config} from '@oclif/core'
import {rmSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const file = path.join(root, 'oclif.manifest.json')
rmSync(file, {force: true})
const config = await Config.load({root})
const plugin = config.plugins.get(config.pjson.name)
if (!plugin) throw new Error('root plugin not found')
writeFileSync(file, JSON.stringify({...plugin.manifest, version: config.version}, null, 2))
console.log(`oclif.manifest.json: ${Object.keys(plugin.manifest.commands).length} commands`)
