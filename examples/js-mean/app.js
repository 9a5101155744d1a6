// Example JavaScript aggregator: the mean of a field per group, skipping NaN.
//
// Build: scripts/build-polyglot.sh (componentize-js, world `aggregator`) -> dist/examples/js-mean.wasm
// Test:  node --test  (native, no Wasm)
import { Aggregator, exportAggregator } from '@eddy/plugin-sdk';

export class Mean extends Aggregator {
  static NAME = 'js-mean';
  static VERSION = '1.0.0';
  static DESCRIPTION = 'Arithmetic mean of a field per group (JavaScript).';
  static CONFIG_SCHEMA = '{"type":"object","additionalProperties":false}';

  static configure(config) {
    const keys = Object.keys(config);
    if (keys.length > 0) throw new Error(`takes no configuration, got ${keys.join(', ')}`);
    return config;
  }

  constructor() {
    super();
    this.total = 0;
    this.n = 0;
  }

  add(value) {
    if (!Number.isNaN(value)) {
      this.total += value;
      this.n += 1;
    }
  }

  merge(other) {
    this.total += other.total;
    this.n += other.n;
  }

  finish() {
    return this.n > 0 ? this.total / this.n : NaN;
  }

  // State format 1: the sum (f64) and the count (u64), little-endian: 16 bytes.
  toBytes() {
    const bytes = new Uint8Array(16);
    const view = new DataView(bytes.buffer);
    view.setFloat64(0, this.total, true);
    view.setBigUint64(8, BigInt(this.n), true);
    return bytes;
  }

  static fromBytes(bytes) {
    if (bytes.length !== 16) throw new Error(`state is ${bytes.length} bytes, expected 16`);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    const group = new Mean();
    group.total = view.getFloat64(0, true);
    group.n = Number(view.getBigUint64(8, true));
    return group;
  }
}

export const aggregate = exportAggregator(Mean);
