// Example JavaScript filter: keeps JSON events whose numeric field is at least a threshold.
//
// Configuration: {"field": "/amount", "min": 10} (`field` is a JSON pointer). Events without the
// field, where it is not a number, or that are not JSON are dropped.
//
// Build: scripts/build-polyglot.sh (componentize-js, world `transform`) -> dist/examples/js-filter.wasm
// Test:  node --test  (native, no Wasm)
import { exportFilter } from '@eddy/plugin-sdk';

function configure(config) {
  const unknown = Object.keys(config).filter((k) => k !== 'field' && k !== 'min');
  if (unknown.length) throw new Error(`unknown keys: ${unknown.join(', ')}`);
  if (typeof config.field !== 'string' || !config.field.startsWith('/')) {
    throw new Error('field: must be a JSON pointer such as /amount');
  }
  if (typeof config.min !== 'number') throw new Error('min: must be a number');
  const path = config.field
    .slice(1)
    .split('/')
    .map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'));
  return { path, min: config.min };
}

const decoder = new TextDecoder('utf-8', { fatal: true }); // invalid UTF-8 is not JSON

/** Keeps events whose field is at least a threshold. */
export function threshold(event, { path, min }) {
  let value;
  try {
    value = JSON.parse(decoder.decode(event.payload));
  } catch {
    return false;
  }
  for (const part of path) {
    // In an array only a plain index (RFC 6901): not /list/length, not /list/01.
    const found = Array.isArray(value)
      ? /^(0|[1-9][0-9]*)$/.test(part) && Number(part) < value.length
      : value !== null && typeof value === 'object' && Object.hasOwn(value, part);
    if (!found) return false;
    value = value[part];
  }
  return typeof value === 'number' && value >= min;
}

export const transformer = exportFilter(threshold, {
  name: 'js-threshold',
  version: '1.0.0',
  description: 'Keeps events whose field is at least a threshold (JavaScript).',
  configSchema:
    '{"type":"object","properties":{"field":{"type":"string"},"min":{"type":"number"}},"required":["field","min"],"additionalProperties":false}',
  configure,
});
