// Example JavaScript aggregator: the spread (largest minus smallest value) of a field per group,
// times a configurable scale. The twin of the Rust example `examples/spread`: same name, same
// configuration ({"scale": 1.0}), same results, and the same state bytes, so either one can take
// over the other's open windows at a hot swap.
//
// Build: scripts/build-polyglot.sh (componentize-js, world `aggregator`) -> dist/examples/js-spread.wasm
// Test:  node --test  (native, no Wasm)
import { Aggregator, exportAggregator } from '@eddy/plugin-sdk';

export class Spread extends Aggregator {
  static NAME = 'spread';
  static VERSION = '1.0.0';
  static DESCRIPTION = 'Largest minus smallest value of a field, scaled (JavaScript).';
  static CONFIG_SCHEMA =
    '{"type":"object","properties":{"scale":{"type":"number"}},"additionalProperties":false}';

  /** The scale (default 1), a finite number. */
  static configure(config) {
    const object = typeof config === 'object' && config !== null && !Array.isArray(config);
    const unknown = object ? Object.keys(config).filter((k) => k !== 'scale') : ['(not an object)'];
    if (unknown.length > 0) throw new Error(`takes only scale, got ${unknown.join(', ')}`);
    const scale = config.scale ?? 1;
    if (!Number.isFinite(scale)) throw new Error('scale: must be a finite number');
    return scale;
  }

  constructor() {
    super();
    this.min = Infinity;
    this.max = -Infinity;
  }

  // Not Math.min/max: those return NaN for a NaN; every comparison with NaN is false, so NaN
  // is skipped, as Rust's f64::min and max skip it.
  add(value) {
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
  }

  merge(other) {
    if (other.min < this.min) this.min = other.min;
    if (other.max > this.max) this.max = other.max;
  }

  finish(scale) {
    return this.min <= this.max ? (this.max - this.min) * scale : NaN;
  }

  // State format 1: min and max, f64 little-endian, 16 bytes (what the Rust spread's postcard
  // encoding of its two f64 fields is).
  toBytes() {
    const bytes = new Uint8Array(16);
    const view = new DataView(bytes.buffer);
    view.setFloat64(0, this.min, true);
    view.setFloat64(8, this.max, true);
    return bytes;
  }

  static fromBytes(bytes) {
    if (bytes.length !== 16) throw new Error(`state is ${bytes.length} bytes, expected 16`);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    const group = new Spread();
    group.min = view.getFloat64(0, true);
    group.max = view.getFloat64(8, true);
    return group;
  }
}

export const aggregate = exportAggregator(Spread);
