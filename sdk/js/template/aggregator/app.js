// __NAME__: an aggregator. Each group (key x window) gets its own instance of the class below;
// the host calls `add` per event, `merge` for session windows, `finish` when the window fires.
import { Aggregator, exportAggregator } from '@eddy/plugin-sdk';

/** Sum of a field per group. Its state is saved at checkpoints: change `toBytes` only together
 * with a new `STATE_FORMAT`. */
export class Plugin extends Aggregator {
  static NAME = '__NAME__';
  static VERSION = '0.1.0';
  static STATE_FORMAT = 1;
  static DESCRIPTION = 'Sum of a field per group.';

  constructor() {
    super();
    this.total = 0;
  }

  add(value) {
    if (Number.isFinite(value)) this.total += value;
  }

  merge(other) {
    this.total += other.total;
  }

  finish() {
    return this.total;
  }

  toBytes() {
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setFloat64(0, this.total, true);
    return bytes;
  }

  static fromBytes(bytes) {
    const group = new Plugin();
    group.total = new DataView(bytes.buffer, bytes.byteOffset, bytes.length).getFloat64(0, true);
    return group;
  }
}

export const aggregate = exportAggregator(Plugin);
