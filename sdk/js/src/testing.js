/**
 * Test plugins natively (no Wasm) with the same code the component runs: `accumulate`, `finish`
 * and `roundTrip` mirror the Rust SDK's `eddy_sdk::testing`; `AggregatorHarness` and
 * `runTransform` drive the exported objects the way the host drives the component.
 */

import { parseConfig } from './errors.js';

const encoder = new TextEncoder();

function aggregatorClass(plugin) {
  return plugin.aggregator ?? plugin;
}

function configOf(cls, config) {
  return cls.configure(typeof config === 'string' || config == null ? parseConfig(config) : config);
}

/** A new accumulator fed `values`. */
export function accumulate(plugin, values, config = '{}') {
  const cls = aggregatorClass(plugin);
  const group = cls.new(configOf(cls, config));
  for (const value of values) group.add(Number(value));
  return group;
}

/** The values `finish` produces for `group`, checked against `outputs`. */
export function finish(group, config = '{}') {
  const cls = group.constructor;
  const conf = configOf(cls, config);
  let result = group.finish(conf);
  result = typeof result === 'number' ? [result] : Array.from(result, Number);
  if (result.length !== cls.outputs(conf).length) {
    throw new Error('finish must produce one value per output');
  }
  return result;
}

/** `group` saved with `toBytes` and read back with `fromBytes`. */
export function roundTrip(group, config = '{}') {
  const cls = group.constructor;
  const bytes = group.toBytes();
  if (!(bytes instanceof Uint8Array)) throw new Error('toBytes must return a Uint8Array');
  return cls.fromBytes(bytes, configOf(cls, config));
}

/** Unwraps a thrown WIT error (`{ tag, val }`) into an Error carrying `.tag`. */
function call(f) {
  try {
    return f();
  } catch (e) {
    if (e && typeof e === 'object' && 'tag' in e && !(e instanceof Error)) {
      throw Object.assign(new Error(`${e.tag}: ${e.val}`), { tag: e.tag, val: e.val });
    }
    throw e;
  }
}

/** One exported `aggregate` as the host sees it: `configure`, then calls over columns. */
export class AggregatorHarness {
  constructor(aggregate, config = '{}') {
    this.aggregate = aggregate;
    this.outputs = call(() => aggregate.configure(config));
  }
  accumulate(slots, values) {
    this.aggregate.accumulate(Uint32Array.from(slots), Float64Array.from(values));
  }
  merge(targets, sources) {
    this.aggregate.merge(Uint32Array.from(targets), Uint32Array.from(sources));
  }
  finish(slots) {
    return Array.from(this.aggregate.finish(Uint32Array.from(slots)));
  }
  release(slots) {
    this.aggregate.release(Uint32Array.from(slots));
  }
  /** `{ data, offsets }`, as the component returns them. */
  save(slots) {
    return this.aggregate.save(Uint32Array.from(slots));
  }
  restore(slots, states) {
    call(() => this.aggregate.restore(Uint32Array.from(slots), states));
  }
}

/**
 * Runs an exported `transformer` over `events` — payloads (string or Uint8Array) or
 * `[payload, timestamp]` pairs — in one batch, as the host does. Returns the kept indices for a
 * filter, `[{ payload: string, timestamp, origin }]` otherwise. WIT errors are thrown as Errors
 * with `.tag` (`invalid-config`, `invalid-input`, ...).
 */
export function runTransform(transformer, events, config = '{}') {
  call(() => transformer.configure(config));
  const rows = events.map((e, i) => (Array.isArray(e) ? e : [e, i]));
  const bytes = rows.map(([p]) => (typeof p === 'string' ? encoder.encode(p) : p));
  const data = new Uint8Array(bytes.reduce((n, b) => n + b.length, 0));
  const offsets = new Uint32Array(bytes.length + 1);
  let at = 0;
  bytes.forEach((b, i) => {
    data.set(b, at);
    at += b.length;
    offsets[i + 1] = at;
  });
  const timestamps = BigInt64Array.from(rows.map(([, t]) => BigInt(t)));
  const out = call(() => transformer.process({ payloads: { data, offsets }, timestamps }));
  if (out.tag === 'keep') return Array.from(out.val);
  const { events: ev, origin } = out.val;
  const decoder = new TextDecoder();
  return Array.from(origin, (o, i) => ({
    payload: decoder.decode(ev.payloads.data.subarray(ev.payloads.offsets[i], ev.payloads.offsets[i + 1])),
    timestamp: Number(ev.timestamps[i]),
    origin: o,
  }));
}
