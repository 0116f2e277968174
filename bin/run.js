#!/usr/bin/env node
// oclif checks its own engines field on import by loading all of semver (~25 ms of every start);
// flowscope's package.json declares the Node versions it supports (>= 20) itself.
process.env.OCLIF_DISABLE_ENGINE_WARNING ??= '1'
const {execute} = await import('@oclif/core')

await execute({dir: import.meta.url})
