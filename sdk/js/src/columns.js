/**
 * Filters and maps over columns: the host decodes the fields a plugin names and passes them as
 * typed columns, one call per batch, so nothing is parsed inside the sandbox.
 *
 * A field is `[pointer, type]`: a JSON pointer and one of `float`, `integer`, `text`, `boolean`,
 * `json` (the value's JSON text); a type ending in `?` (`'float?'`) makes it optional: `null` is
 * passed where a record has no value of that type. A row where a field that is not optional has
 * no value does not pass a filter and passes a map unchanged.
 */

import { INVALID_CONFIG, INVALID_INPUT, PluginError, asPluginError, parseConfig } from './errors.js';

const TYPES = ['float', 'integer', 'text', 'boolean', 'json'];
const PLACEHOLDER = { float: 0, integer: 0n, text: '', boolean: false, json: 'null' };

function field([pointer, type]) {
  const optional = type.endsWith('?');
  const kind = optional ? type.slice(0, -1) : type;
  if (!TYPES.includes(kind)) throw new Error(`${pointer}: type must be one of ${TYPES}, got ${type}`);
  if (typeof pointer !== 'string' || !pointer.startsWith('/')) {
    throw new Error(`${pointer}: not a JSON pointer such as /amount`);
  }
  return { pointer, kind, optional };
}

/**
 * A column filter or map `fn(...values, config)` with what `describe()` reports. A filter
 * returns a truth value, a map one value per written field (an array when there are several;
 * `null` or `undefined` leaves that field as it was). `info.reads` (and for a map
 * `info.writes`) are arrays of fields, or functions of the configuration returning them.
 */
export class ColumnTransform {
  constructor(fn, kind, info = {}) {
    if (kind !== 'map' && kind !== 'filter') throw new TypeError('kind must be map or filter');
    this.fn = fn;
    this.kind = kind;
    this.reads = info.reads ?? [];
    this.writes = info.writes ?? [];
    this.name = info.name ?? fn.name.replace(/_/g, '-');
    this.version = info.version ?? '0.1.0';
    this.description = info.description ?? '';
    this.configSchema = info.configSchema ?? '{"type":"object"}';
    this.configureFn = info.configure ?? null;
  }

  info() {
    return {
      name: this.name,
      version: this.version,
      kind: this.kind,
      stateFormat: 0,
      description: this.description,
      configSchema: this.configSchema,
    };
  }

  /** A configured runner; throws `PluginError` to refuse the configuration. */
  configure(configJson) {
    try {
      let config = parseConfig(configJson);
      if (this.configureFn) config = this.configureFn(config);
      const of = (f) => (typeof f === 'function' ? f(config) : f);
      const reads = of(this.reads).map(field);
      const writes = of(this.writes).map(field);
      if (this.kind === 'filter' && writes.length) throw new Error('a filter writes no fields');
      return new ColumnBatch(this, config, reads, writes);
    } catch (e) {
      throw asPluginError(e, INVALID_CONFIG);
    }
  }
}

function typed(kind, value) {
  switch (kind) {
    case 'float':
      return Number(value);
    case 'integer':
      return BigInt(Math.trunc(Number(value)));
    case 'boolean':
      return Boolean(value);
    case 'json':
      return typeof value === 'string' ? value : JSON.stringify(value);
    default:
      return String(value);
  }
}

/** One configured column transform: runs whole batches of columns. */
export class ColumnBatch {
  constructor(transform, config, reads, writes) {
    this.transform = transform;
    this.config = config;
    this.reads = reads;
    this.writes = writes;
  }

  /** The WIT `column-spec`: `{ reads, writes }`, each `[{ pointer, type }]`. */
  spec() {
    const wit = (fields) => fields.map(({ pointer, kind }) => ({ pointer, type: kind }));
    return { reads: wit(this.reads), writes: wit(this.writes) };
  }

  /**
   * Runs over `rows` rows; `columns` holds the WIT `column` of each read field
   * (`{ values: { tag, val }, valid }`). Returns the WIT `column-output`.
   */
  process(rows, columns) {
    try {
      return this.#process(rows, columns);
    } catch (e) {
      throw asPluginError(e, INVALID_INPUT);
    }
  }

  #args(columns, i) {
    const args = [];
    for (let f = 0; f < this.reads.length; f++) {
      const { values, valid } = columns[f];
      if (valid[i]) {
        const v = values.val[i];
        args.push(typeof v === 'bigint' ? Number(v) : v);
      } else if (this.reads[f].optional) {
        args.push(null);
      } else {
        return null;
      }
    }
    return args;
  }

  #process(rows, columns) {
    if (columns.length !== this.reads.length) {
      throw new Error(`${columns.length} columns for ${this.reads.length} fields`);
    }
    const { fn, kind } = this.transform;
    const config = this.config;
    if (kind === 'filter') {
      const keep = [];
      for (let i = 0; i < rows; i++) {
        const args = this.#args(columns, i);
        if (args !== null && fn(...args, config)) keep.push(i);
      }
      return { tag: 'keep', val: Uint32Array.from(keep) };
    }
    const width = this.writes.length;
    const outs = this.writes.map(() => ({ values: [], valid: [] }));
    for (let i = 0; i < rows; i++) {
      const args = this.#args(columns, i);
      let result = args === null ? null : fn(...args, config);
      if (width === 1) result = [result];
      else if (result === null || result === undefined) result = new Array(width).fill(null);
      if (result.length !== width) {
        throw new Error(`the map returned ${result.length} values for ${width} fields`);
      }
      this.writes.forEach(({ kind: type }, w) => {
        const value = result[w];
        const ok = value !== null && value !== undefined;
        outs[w].valid.push(ok);
        outs[w].values.push(ok ? typed(type, value) : PLACEHOLDER[type]);
      });
    }
    const lists = {
      float: (v) => Float64Array.from(v),
      integer: (v) => BigInt64Array.from(v),
      text: (v) => v,
      boolean: (v) => v,
      json: (v) => v,
    };
    return {
      tag: 'set',
      val: outs.map(({ values, valid }, w) => {
        const type = this.writes[w].kind;
        return { values: { tag: type, val: lists[type](values) }, valid };
      }),
    };
  }
}

function exporter(kind) {
  return (fn, info = {}) => {
    const transform = fn instanceof ColumnTransform ? fn : new ColumnTransform(fn, kind, info);
    let runner = null;
    return {
      transform,
      describe: () => transform.info(),
      configure(config) {
        try {
          runner = transform.configure(config);
        } catch (e) {
          throw e instanceof PluginError ? e.payload : { tag: 'failed', val: String(e) };
        }
        return runner.spec();
      },
      process(rows, columns) {
        if (runner === null) throw { tag: 'failed', val: 'process called before configure' };
        try {
          return runner.process(rows, columns);
        } catch (e) {
          throw e instanceof PluginError ? e.payload : { tag: 'failed', val: String(e) };
        }
      },
    };
  };
}

/** Exports `fn(...values, config)` as a column filter: `export const columns = exportColumnFilter(fn, { reads, ... })`. */
export const exportColumnFilter = exporter('filter');
/** Exports `fn(...values, config)` as a column map (`{ reads, writes, ... }`). */
export const exportColumnMap = exporter('map');
