import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Aggregator, exportAggregator, exportFilter, exportFlatMap, exportMap } from '../src/index.js';
import { AggregatorHarness, accumulate, finish, roundTrip, runTransform } from '../src/testing.js';

class Range extends Aggregator {
  static NAME = 'range';
  static VERSION = '1.2.3';
  static configure(config) {
    const unknown = Object.keys(config).filter((k) => k !== 'scale');
    if (unknown.length) throw new Error(`unknown keys ${unknown}`);
    return config.scale ?? 1;
  }
  static outputs() {
    return ['min', 'max'];
  }
  constructor() {
    super();
    this.lo = Infinity;
    this.hi = -Infinity;
  }
  add(v) {
    this.lo = Math.min(this.lo, v);
    this.hi = Math.max(this.hi, v);
  }
  merge(o) {
    this.add(o.lo);
    this.add(o.hi);
  }
  finish(scale) {
    return [this.lo * scale, this.hi * scale];
  }
  // Infinities do not survive JSON: strings do.
  toBytes() {
    return new TextEncoder().encode(JSON.stringify([String(this.lo), String(this.hi)]));
  }
  static fromBytes(bytes) {
    const [lo, hi] = JSON.parse(new TextDecoder().decode(bytes)).map(Number);
    return Object.assign(new Range(), { lo, hi });
  }
}

test('groups accumulate, merge, save and restore', () => {
  const aggregate = exportAggregator(Range);
  assert.equal(aggregate.describe().kind, 'aggregator');
  assert.equal(aggregate.describe().stateFormat, 1);
  const h = new AggregatorHarness(aggregate, '{"scale": 2}');
  assert.deepEqual(h.outputs, ['min', 'max']);
  h.accumulate([0, 1, 0, 5], [1, 2, 3, -1]);
  assert.deepEqual(h.finish([0, 1, 5, 9]), [2, 6, 4, 4, -2, -2, Infinity, -Infinity]);
  h.merge([0, 3], [5, 3]);
  assert.deepEqual(h.finish([0, 5]), [-2, 6, Infinity, -Infinity]);
  const saved = h.save([0, 1, 7]);
  assert.equal(saved.offsets.length, 4);
  const other = new AggregatorHarness(exportAggregator(Range), '{"scale": 2}');
  other.restore([10, 11, 12], saved);
  assert.deepEqual(other.finish([10, 11, 12]), [-2, 6, 4, 4, Infinity, -Infinity]);
  h.release([0]);
  assert.deepEqual(h.finish([0]), [Infinity, -Infinity]);
});

test('bad configuration and state are WIT errors', () => {
  assert.throws(() => new AggregatorHarness(exportAggregator(Range), '{"scael":1}'), { tag: 'invalid-config' });
  assert.throws(() => new AggregatorHarness(exportAggregator(Range), '{oops'), { tag: 'invalid-config' });
  const h = new AggregatorHarness(exportAggregator(Range));
  assert.throws(() => h.restore([1], { data: new Uint8Array([1, 2]), offsets: new Uint32Array([0, 2]) }), {
    tag: 'invalid-state',
  });
  assert.throws(() => h.restore([1, 2], { data: new Uint8Array(), offsets: new Uint32Array([0, 0]) }), {
    tag: 'invalid-state',
  });
});

test('default state bytes are the fields as JSON', () => {
  class Sum extends Aggregator {
    constructor() {
      super();
      this.total = 0;
    }
    add(v) {
      this.total += v;
    }
    merge(o) {
      this.total += o.total;
    }
    finish() {
      return this.total;
    }
  }
  const a = accumulate(Sum, [1, 2]);
  a.merge(accumulate(Sum, [4]));
  assert.deepEqual(finish(roundTrip(a)), [7]);
  assert.equal(Sum.info().name, 'sum');
});

test('filter, map and flat-map', () => {
  const even = exportFilter((e) => e.json().v % 2 === 0, { name: 'even' });
  assert.equal(even.describe().kind, 'filter');
  assert.deepEqual(runTransform(even, ['{"v":1}', '{"v":2}', '{"v":4}']), [1, 2]);

  const tag = exportMap((e, config) => ({
    payload: JSON.stringify({ ...e.json(), tag: config.tag }),
    timestamp: e.timestamp + 1,
  }));
  assert.deepEqual(runTransform(tag, [['{"v":1}', 7]], '{"tag":"x"}'), [
    { payload: '{"v":1,"tag":"x"}', timestamp: 8, origin: 0 },
  ]);

  const split = exportFlatMap((e) => e.text().split(',').filter(Boolean));
  assert.deepEqual(
    runTransform(split, ['a,b', '', 'c']).map((r) => [r.payload, r.origin]),
    [['a', 0], ['b', 0], ['c', 2]],
  );
});

test('a throwing function rejects the batch as invalid input', () => {
  const boom = exportFilter(() => {
    throw new Error('no');
  });
  assert.throws(() => runTransform(boom, ['{}']), { tag: 'invalid-input' });
  const refusing = exportFilter(() => true, {
    configure: () => {
      throw new Error('min is required');
    },
  });
  assert.throws(() => runTransform(refusing, []), { tag: 'invalid-config', val: 'min is required' });
});

test('column filter and map over typed columns', async () => {
  const { exportColumnFilter, exportColumnMap } = await import('../src/index.js');
  const f = exportColumnFilter((v, name) => v > 0 && name !== 'skip', {
    name: 'positive',
    reads: [['/v', 'float'], ['/name', 'text?']],
  });
  assert.deepEqual(f.configure('{}'), {
    reads: [{ pointer: '/v', type: 'float' }, { pointer: '/name', type: 'text' }],
    writes: [],
  });
  const columns = [
    { values: { tag: 'float', val: Float64Array.from([1, -1, 5, 3]) }, valid: [true, true, false, true] },
    { values: { tag: 'text', val: ['a', '', 'b', 'skip'] }, valid: [true, false, true, true] },
  ];
  assert.deepEqual([...f.process(4, columns).val], [0]);

  const m = exportColumnMap((v) => [`v=${v}`, v > 1 ? v * 2 : null, { v }, 7], {
    name: 'label',
    reads: [['/v', 'integer']],
    writes: [['/label', 'text'], ['/double', 'float'], ['/raw', 'json'], ['/n', 'integer']],
  });
  m.configure('{}');
  const out = m.process(2, [
    { values: { tag: 'integer', val: BigInt64Array.from([1n, 2n]) }, valid: [true, false] },
  ]);
  assert.equal(out.tag, 'set');
  assert.deepEqual(out.val[0], { values: { tag: 'text', val: ['v=1', ''] }, valid: [true, false] });
  assert.deepEqual([...out.val[1].values.val], [0, 0]);
  assert.deepEqual(out.val[1].valid, [false, false]);
  assert.deepEqual(out.val[2].values.val, ['{"v":1}', 'null']);
  assert.deepEqual([...out.val[3].values.val], [7n, 0n]);
  assert.throws(() => m.configure('{}') && exportColumnFilter(() => true, { reads: [['v', 'float']] }).configure('{}'), {
    tag: 'invalid-config',
  });
});
