import js from '@eslint/js'
import globals from 'globals'
import tseslint from 'typescript-eslint'

// The house rules of src/ (README "Architecture"): each folder's index.ts is its only door, and
// dependencies point one way: commands -> pipeline/query-command -> stream | buckets ->
// infer | sampling | report | query | gen -> io -> core. A layer importing a file behind another's door,
// or a layer above its own, fails the lint.
const ROOMS = ['core', 'capture', 'flowexport', 'flowfile', 'store', 'ingest', 'gen', 'sampling', 'buckets', 'infer', 'report', 'stream', 'query']
const doors = ROOMS.map((room) => ({
  group: [`**/${room}/*`, `!**/${room}/index.js`],
  message: `import ${room}/ through its door, ${room}/index.js`,
}))
const ROOT_MODULES = ['**/pipeline.js', '**/query-command.js', '**/base-command.js', '**/flag-types.js']
const above = (layers, why) => ({
  group: [...layers.flatMap((l) => [`**/${l}/**`, `**/${l}/index.js`]), ...ROOT_MODULES, '**/commands/**'],
  message: why,
})
const restrict = (...patterns) => ({'no-restricted-imports': ['error', {patterns: [...doors, ...patterns]}]})

export default tseslint.config(
  {ignores: ['dist/**', 'node_modules/**', 'scratch/**', 'coverage/**', 'bench/out/**']},
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {globals: {...globals.node}},
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', {argsIgnorePattern: '^_', varsIgnorePattern: '^_'}],
      'no-constant-condition': ['error', {checkLoops: false}],
    },
  },
  {files: ['src/**/*.ts'], rules: restrict()},
  {
    files: ['src/**/*.ts'],
    ignores: ['src/io/**'],
    rules: restrict({group: ['**/io/*/**'], message: 'other layers import io through its door, io/index.js'}),
  },
  {files: ['src/core/**/*.ts'], rules: restrict({group: ['../**'], message: 'core is the bottom layer: it imports nothing else of flowscope'})},
  {files: ['src/io/**/*.ts'], rules: restrict(above(['gen', 'sampling', 'buckets', 'infer', 'report', 'stream', 'query'], 'io imports only core'))},
  ...['infer', 'sampling', 'report', 'query', 'gen'].map((layer) => ({
    files: [`src/${layer}/**/*.ts`],
    rules: restrict(
      {group: ['**/io/*/**'], message: 'other layers import io through its door, io/index.js'},
      above(['stream', 'buckets', ...['infer', 'sampling', 'report', 'query', 'gen'].filter((l) => l !== layer)], `${layer} imports only io and core`),
    ),
  })),
  ...['stream', 'buckets'].map((layer) => ({
    files: [`src/${layer}/**/*.ts`],
    rules: restrict(
      {group: ['**/io/*/**'], message: 'other layers import io through its door, io/index.js'},
      above([layer === 'stream' ? 'buckets' : 'stream'], `${layer} imports infer, sampling, report, query, io and core, not the layers above it`),
    ),
  })),
)
