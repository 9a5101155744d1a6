/** Maps, filters and flat-maps: the function an author writes, and the batch loop around it. */

import { INVALID_CONFIG, INVALID_INPUT, PluginError, asPluginError, parseConfig } from './errors.js';

const encoder = new TextEncoder();
const KINDS = ['map', 'filter', 'flat-map'];

/**
 * A map, filter or flat-map function `fn(event, config)` with what `describe()` reports.
 * `event` is `{ payload: Uint8Array, timestamp: number, text() , json() }`. A filter returns a
 * truth value, a map `{ payload, timestamp? }` (payload: Uint8Array or string; the timestamp is
 * kept when left out), a flat-map an iterable of those. Throwing rejects the whole batch.
 */
export class Transform {
  constructor(fn, kind, info = {}) {
    if (!KINDS.includes(kind)) throw new TypeError(`kind must be one of ${KINDS}`);
    this.fn = fn;
    this.kind = kind;
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
    let config;
    try {
      config = parseConfig(configJson);
      if (this.configureFn) config = this.configureFn(config);
    } catch (e) {
      throw asPluginError(e, INVALID_CONFIG);
    }
    return new Batch(this, config);
  }
}

const decoder = new TextDecoder();

class Event {
  constructor(payload, timestamp) {
    this.payload = payload;
    this.timestamp = timestamp;
  }
  /** The payload as text (UTF-8). */
  text() {
    return decoder.decode(this.payload);
  }
  /** The payload as JSON; throws when it is not JSON. */
  json() {
    return JSON.parse(this.text());
  }
}

function toBytes(payload) {
  if (payload instanceof Uint8Array) return payload;
  if (typeof payload === 'string') return encoder.encode(payload);
  throw new TypeError('a payload must be a Uint8Array or a string');
}

/** One configured transform: runs whole batches, given as columns. */
export class Batch {
  constructor(transform, config) {
    this.transform = transform;
    this.config = config;
  }

  /**
   * Runs over `payloads` (`{ data, offsets }`) at `timestamps` (numbers or BigInts). Returns
   * the WIT `transform-output`: `{ tag: 'keep', val }` or `{ tag: 'rows', val }`.
   */
  process(payloads, timestamps) {
    try {
      return this.#process(payloads, timestamps);
    } catch (e) {
      throw asPluginError(e, INVALID_INPUT);
    }
  }

  #process({ data, offsets }, timestamps) {
    const n = timestamps.length;
    if (offsets.length !== n + 1) throw new Error(`${n} timestamps but ${offsets.length} offsets`);
    const { fn, kind } = this.transform;
    const config = this.config;
    const event = (i) =>
      new Event(data.subarray(offsets[i], offsets[i + 1]), Number(timestamps[i]));
    if (kind === 'filter') {
      const keep = [];
      for (let i = 0; i < n; i++) if (fn(event(i), config)) keep.push(i);
      return { tag: 'keep', val: Uint32Array.from(keep) };
    }
    const rows = [];
    const ts = [];
    const origin = [];
    for (let i = 0; i < n; i++) {
      const e = event(i);
      const result = fn(e, config);
      const outs = kind === 'map' ? [result] : (result ?? []);
      for (const out of outs) {
        const record = out instanceof Uint8Array || typeof out === 'string' ? { payload: out } : out;
        rows.push(toBytes(record.payload));
        ts.push(BigInt(record.timestamp ?? e.timestamp));
        origin.push(i);
      }
    }
    const total = rows.reduce((sum, r) => sum + r.length, 0);
    const outData = new Uint8Array(total);
    const outOffsets = new Uint32Array(rows.length + 1);
    let at = 0;
    rows.forEach((r, i) => {
      outData.set(r, at);
      at += r.length;
      outOffsets[i + 1] = at;
    });
    return {
      tag: 'rows',
      val: {
        events: { payloads: { data: outData, offsets: outOffsets }, timestamps: BigInt64Array.from(ts) },
        origin: Uint32Array.from(origin),
      },
    };
  }
}

function exporter(kind) {
  return (fn, info = {}) => {
    const transform = fn instanceof Transform ? fn : new Transform(fn, kind, info);
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
      },
      process(batch) {
        if (runner === null) throw { tag: 'failed', val: 'process called before configure' };
        try {
          return runner.process(batch.payloads, batch.timestamps);
        } catch (e) {
          throw e instanceof PluginError ? e.payload : { tag: 'failed', val: String(e) };
        }
      },
    };
  };
}

/** Exports `fn(event, config)` as a filter: `export const transformer = exportFilter(fn, {...})`. */
export const exportFilter = exporter('filter');
/** Exports `fn(event, config)` as a map. */
export const exportMap = exporter('map');
/** Exports `fn(event, config)` as a flat-map. */
export const exportFlatMap = exporter('flat-map');
