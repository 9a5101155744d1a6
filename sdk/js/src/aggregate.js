/** Aggregators: the class an author writes, and the slot table that runs it inside the plugin. */

import {
  INVALID_CONFIG,
  INVALID_STATE,
  PluginError,
  asPluginError,
  parseConfig,
} from './errors.js';
import { Level, log } from './log.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The accumulator of one group (one key in one window).
 *
 * Extend it and write `add`, `merge` and `finish`; the constructor (or `static new`) makes an
 * empty accumulator. The host keeps one instance per group inside the plugin and feeds whole
 * batches. State becomes bytes (`toBytes` / `static fromBytes`) only at checkpoints and hot
 * swaps: bump `STATE_FORMAT` whenever those bytes change. The default bytes are the instance's
 * own fields as JSON (NaN and infinities do not survive JSON: override both methods then).
 */
export class Aggregator {
  /** Short name, e.g. `mean`. */
  static NAME = '';
  /** Semantic version. */
  static VERSION = '0.1.0';
  /** Version of the bytes `toBytes` writes. */
  static STATE_FORMAT = 1;
  /** One line for people. */
  static DESCRIPTION = '';
  /** JSON Schema (as text) of the configuration. */
  static CONFIG_SCHEMA = '{"type":"object"}';

  /** Turns the parsed configuration into what `new` and `finish` get; throw to refuse it. */
  static configure(config) {
    return config;
  }

  /** Names of the values `finish` produces, in order. Default: one unnamed value. */
  static outputs(_config) {
    return [''];
  }

  /** An empty accumulator. The default calls the constructor with the configuration. */
  static new(config) {
    return new this(config);
  }

  /** Adds one value (a number). */
  add(_value) {
    throw new Error('add is not implemented');
  }

  /** Absorbs `other` (same class, same configuration). */
  merge(_other) {
    throw new Error('merge is not implemented');
  }

  /** The group's result: a number, or an array with one number per output. */
  finish(_config) {
    throw new Error('finish is not implemented');
  }

  /** This accumulator's state as a Uint8Array (default: its own fields as JSON). */
  toBytes() {
    return encoder.encode(JSON.stringify({ ...this }));
  }

  /** An accumulator from bytes written by `toBytes`. */
  static fromBytes(bytes, config) {
    return Object.assign(this.new(config), JSON.parse(decoder.decode(bytes)));
  }

  /** What `describe()` reports. */
  static info() {
    return {
      name: this.NAME || this.name.toLowerCase(),
      version: this.VERSION,
      kind: 'aggregator',
      stateFormat: this.STATE_FORMAT,
      description: this.DESCRIPTION,
      configSchema: this.CONFIG_SCHEMA,
    };
  }
}

/**
 * Every group of one plugin instance, addressed by the slot numbers the host assigns: the plugin
 * side of the `aggregate` interface. Each method is one call and loops over the whole batch.
 */
export class Groups {
  constructor(cls, configJson) {
    try {
      this.config = cls.configure(parseConfig(configJson));
      this.outputNames = Array.from(cls.outputs(this.config), String);
    } catch (e) {
      throw asPluginError(e, INVALID_CONFIG);
    }
    this.cls = cls;
    this.width = this.outputNames.length;
    this.slots = new Map();
  }

  group(slot) {
    let group = this.slots.get(slot);
    if (group === undefined) {
      group = this.cls.new(this.config);
      this.slots.set(slot, group);
    }
    return group;
  }

  accumulate(slots, values) {
    const n = Math.min(slots.length, values.length);
    for (let i = 0; i < n; i++) this.group(slots[i]).add(values[i]);
  }

  merge(targets, sources) {
    const n = Math.min(targets.length, sources.length);
    for (let i = 0; i < n; i++) {
      if (targets[i] === sources[i]) continue;
      const other = this.slots.get(sources[i]);
      if (other === undefined) continue;
      this.slots.delete(sources[i]);
      this.group(targets[i]).merge(other);
    }
  }

  finish(slots) {
    const width = this.width;
    const out = new Float64Array(slots.length * width);
    for (let i = 0; i < slots.length; i++) {
      const group = this.slots.get(slots[i]) ?? this.cls.new(this.config);
      let result = group.finish(this.config);
      if (typeof result === 'number' && width === 1) {
        out[i] = result; // the common case, without an array per group
        continue;
      }
      if (typeof result === 'number') result = [result];
      result = Array.from(result, Number);
      if (result.length !== width) {
        log(
          Level.ERROR,
          `${this.cls.info().name}: finish produced ${result.length} values, outputs declares ${width}`,
        );
        while (result.length < width) result.push(NaN);
      }
      for (let j = 0; j < width; j++) out[i * width + j] = result[j];
    }
    return out;
  }

  release(slots) {
    for (let i = 0; i < slots.length; i++) this.slots.delete(slots[i]);
  }

  /** `{ data, offsets }`: the groups' state, one row per slot. */
  save(slots) {
    const rows = [];
    let total = 0;
    for (const slot of slots) {
      const group = this.slots.get(slot) ?? this.cls.new(this.config);
      const bytes = group.toBytes();
      if (!(bytes instanceof Uint8Array)) throw new TypeError('toBytes must return a Uint8Array');
      rows.push(bytes);
      total += bytes.length;
    }
    const data = new Uint8Array(total);
    const offsets = new Uint32Array(rows.length + 1);
    let at = 0;
    rows.forEach((bytes, i) => {
      data.set(bytes, at);
      at += bytes.length;
      offsets[i + 1] = at;
    });
    return { data, offsets };
  }

  /** Replaces the groups in `slots` with state written by `save`; all or nothing. */
  restore(slots, data, offsets) {
    if (offsets.length !== slots.length + 1) {
      throw new PluginError(`${slots.length} slots but ${offsets.length} offsets`, INVALID_STATE);
    }
    const restored = [];
    for (let i = 0; i < slots.length; i++) {
      const start = offsets[i];
      const end = offsets[i + 1];
      if (!(start <= end && end <= data.length)) {
        throw new PluginError(`offsets ${start}..${end} out of range`, INVALID_STATE);
      }
      try {
        restored.push(this.cls.fromBytes(data.subarray(start, end), this.config));
      } catch (e) {
        throw asPluginError(e, INVALID_STATE);
      }
    }
    for (let i = 0; i < slots.length; i++) this.slots.set(slots[i], restored[i]);
  }
}

function refuse(error) {
  // componentize-js turns a thrown value into the `err` case of a `result`: throw the variant.
  throw error instanceof PluginError ? error.payload : { tag: 'failed', val: String(error) };
}

/**
 * Exports `cls` (an `Aggregator` subclass) as the component's `aggregate` interface:
 * `export const aggregate = exportAggregator(Mean);` in the plugin's module.
 */
export function exportAggregator(cls) {
  let table = null;
  const groups = () => {
    if (table === null) throw new Error('eddy: the host called the aggregate before configure');
    return table;
  };
  return {
    aggregator: cls,
    describe: () => cls.info(),
    configure(config) {
      try {
        table = new Groups(cls, config);
      } catch (e) {
        refuse(e);
      }
      return table.outputNames;
    },
    accumulate: (slots, values) => groups().accumulate(slots, values),
    merge: (targets, sources) => groups().merge(targets, sources),
    finish: (slots) => groups().finish(slots),
    release: (slots) => groups().release(slots),
    save: (slots) => groups().save(slots),
    restore(slots, states) {
      try {
        groups().restore(slots, states.data, states.offsets);
      } catch (e) {
        refuse(e);
      }
    },
  };
}
