/**
 * @eddy/plugin-sdk: write Eddy plugins in JavaScript.
 *
 * A plugin is an ES module built into a WebAssembly component with componentize-js against the
 * WIT package `eddy:plugin` (`wit/`): one class (an aggregator) or one function (a map, filter or
 * flat-map) and one export line, tested natively with `node --test`.
 *
 *     import { Aggregator, exportAggregator } from '@eddy/plugin-sdk';
 *     class Mean extends Aggregator { ... }
 *     export const aggregate = exportAggregator(Mean);     // world `aggregator`
 *
 *     import { exportFilter } from '@eddy/plugin-sdk';
 *     export const transformer = exportFilter((event, config) => ..., { name: 'x' }); // world `transform`
 *
 *     import { exportColumnFilter } from '@eddy/plugin-sdk';
 *     export const columns = exportColumnFilter((amount, config) => amount >= 0,
 *       { name: 'x', reads: [['/amount', 'float']] });                    // world `column-transform`
 *
 * Build with `eddy-js-build app.js -o plugin.wasm` (bin/eddy-js-build.mjs).
 */

export { Aggregator, Groups, exportAggregator } from './aggregate.js';
export { ColumnTransform, exportColumnFilter, exportColumnMap } from './columns.js';
export { PluginError } from './errors.js';
export { Level, log } from './log.js';
export { Transform, exportFilter, exportFlatMap, exportMap } from './transform.js';
