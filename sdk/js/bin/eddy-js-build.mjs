#!/usr/bin/env node
// Builds an Eddy plugin written in JavaScript into a WebAssembly component.
//
//   eddy-js-build app.js -o plugin.wasm [--wit DIR] [--world aggregator|transform|column-transform]
//
// 1. The world is read from the module's exports (`aggregate` -> aggregator, `transformer` ->
//    transform, `columns` -> column-transform) unless --world says it.
// 2. An entry module sends the SDK's `log` and `console.*` to the host's `eddy:plugin/log`
//    import and re-exports the plugin; rolldown bundles it with the SDK into one ES module.
// 3. componentize-js turns that into a component with every optional WASI feature of its engine
//    disabled (stdio, random, clocks, http, fetch-event): the component imports nothing but
//    `eddy:plugin/log`, which is all the Eddy host grants a plugin. `Math.random` is then
//    deterministic and `Date.now()` does not advance; console output goes to the host's log.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

import { componentize } from '@bytecodealliance/componentize-js';
import { _setPreopens } from '@bytecodealliance/preview2-shim/filesystem';
import { rolldown } from 'rolldown';

// componentize-js runs its WIT splicer as a component on preview2-shim, whose 0.26 releases start
// with no preopened directories (older ones preopened `/`): give the splicer the WIT folder and
// the bundle by path.
_setPreopens({ '/': '/' });

const sdkDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    output: { type: 'string', short: 'o' },
    wit: { type: 'string' },
    world: { type: 'string' },
  },
});
if (positionals.length !== 1 || !values.output) {
  console.error('usage: eddy-js-build app.js -o plugin.wasm [--wit DIR] [--world NAME]');
  process.exit(2);
}
const app = resolve(positionals[0]);
const output = resolve(values.output);
// The WIT folder: --wit, $EDDY_WIT, `wit/` beside this SDK's folder (a project made by
// `eddy plugin new`: `wit/` and `eddy-sdk/`), else the repository's `wit/` beside `sdk/`.
const beside = join(sdkDir, '..', 'wit');
const wit = resolve(
  values.wit ??
    process.env.EDDY_WIT ??
    (existsSync(beside) ? beside : join(sdkDir, '..', '..', 'wit')),
);
if (!existsSync(wit)) {
  console.error(`no WIT folder at ${wit}: give --wit DIR (the eddy:plugin package) or EDDY_WIT`);
  process.exit(2);
}

let world = values.world;
if (!world) {
  const module = await import(pathToFileURL(app).href);
  if ('aggregate' in module) world = 'aggregator';
  else if ('transformer' in module) world = 'transform';
  else if ('columns' in module) world = 'column-transform';
  else {
    console.error(`${app} exports none of \`aggregate\`, \`transformer\`, \`columns\``);
    process.exit(2);
  }
}

// The entry sits next to the app so that `@eddy/plugin-sdk` resolves to the app's own copy.
const entry = join(dirname(app), `.eddy-entry-${process.pid}.mjs`);
const work = await mkdtemp(join(tmpdir(), 'eddy-js-build-'));
const bundle = join(work, 'bundle.js');
const sdkLog = pathToFileURL(join(sdkDir, 'src', 'log.js')).href;
await writeFile(
  entry,
  `import { log as hostLog } from 'eddy:plugin/log@0.1.0';
import { bindHostLog } from ${JSON.stringify(sdkLog)};
bindHostLog((level, message) => hostLog(level, message));
export * from ${JSON.stringify(`./${basename(app)}`)};
`,
);
try {
  const build = await rolldown({
    input: entry,
    external: [/^eddy:/, /^wasi:/],
    platform: 'neutral',
    logLevel: 'warn',
  });
  await build.write({ file: bundle, format: 'esm', codeSplitting: false });
  await build.close();
  const { component } = await componentize({
    sourcePath: bundle,
    witPath: wit,
    worldName: world,
    disableFeatures: ['stdio', 'random', 'clocks', 'http', 'fetch-event'],
  });
  await writeFile(output, component);
  console.log(`${output}: world ${world}, ${component.length} bytes`);
} finally {
  await rm(entry, { force: true });
  await rm(work, { recursive: true, force: true });
}
