// Example JavaScript column filter: keeps events whose numeric field is at least a threshold. The
// same filter as `js-filter`, over a column: the host reads the one field it names and passes its
// numbers, so nothing is parsed inside the sandbox.
//
// Configuration: {"field": "/amount", "min": 10} (`field` is a JSON pointer). Events without the
// field, or where it is not a number, are dropped.
//
// Build: scripts/build-polyglot.sh (componentize-js, world `column-transform`)
//        -> dist/examples/js-column-filter.wasm
// Test:  node --test  (native, no Wasm)
import { exportColumnFilter } from '@eddy/plugin-sdk';

function configure(config) {
  const unknown = Object.keys(config).filter((k) => k !== 'field' && k !== 'min');
  if (unknown.length) throw new Error(`unknown keys: ${unknown.join(', ')}`);
  if (typeof config.field !== 'string' || !config.field.startsWith('/')) {
    throw new Error('field: must be a JSON pointer such as /amount');
  }
  if (typeof config.min !== 'number') throw new Error('min: must be a number');
  return config;
}

/** Keeps events whose field is at least a threshold (over a column). */
export function threshold(value, { min }) {
  return value >= min;
}

export const columns = exportColumnFilter(threshold, {
  name: 'js-column-threshold',
  version: '1.0.0',
  description: 'Keeps events whose field is at least a threshold (JavaScript, over a column).',
  configSchema:
    '{"type":"object","properties":{"field":{"type":"string"},"min":{"type":"number"}},"required":["field","min"],"additionalProperties":false}',
  configure,
  reads: (config) => [[config.field, 'float']],
});
