import assert from 'node:assert/strict';
import { test } from 'node:test';

import { AggregatorHarness, accumulate, finish, roundTrip } from '@eddy/plugin-sdk/testing';
import { Spread, aggregate } from '../app.js';

test('spread merges and round-trips', () => {
  // The Rust example's own test, in JavaScript.
  const a = accumulate(Spread, [4, 2], '{"scale":10}');
  a.merge(accumulate(Spread, [9]));
  assert.deepEqual(finish(roundTrip(a), '{"scale":10}'), [70]);
  assert.ok(Number.isNaN(finish(new Spread())[0]));
});

test('NaN is skipped', () => {
  assert.deepEqual(finish(accumulate(Spread, [NaN, 3, NaN, -1])), [4]);
  assert.ok(Number.isNaN(finish(accumulate(Spread, [NaN]))[0]));
});

test('state is min and max as little-endian f64', () => {
  const expected = new Uint8Array(16);
  const view = new DataView(expected.buffer);
  view.setFloat64(0, -2.5, true);
  view.setFloat64(8, 5, true);
  assert.deepEqual(accumulate(Spread, [5, -2.5]).toBytes(), expected);
});

test('as the host drives it', () => {
  const h = new AggregatorHarness(aggregate, '{"scale":2}');
  h.accumulate([0, 1, 0, 2, 2], [1, 10, 3, 5, -4]);
  h.merge([0], [2]);
  assert.deepEqual(h.finish([0, 1]), [18, 0]);
  const saved = h.save([0, 1]);
  assert.deepEqual(Array.from(saved.offsets), [0, 16, 32]);
  const fresh = new AggregatorHarness(aggregate, '{"scale":2}');
  fresh.restore([4, 5], saved);
  fresh.accumulate([4, 5], [9, 12]);
  assert.deepEqual(fresh.finish([4, 5]), [26, 4]);
  const bad = { data: new Uint8Array([1, 2, 3]), offsets: [0, 3] };
  assert.throws(() => fresh.restore([6], bad), { tag: 'invalid-state' });
});

test('refuses bad configuration', () => {
  for (const config of ['{"x":1}', '{"scale":"2"}', '{"scale":true}', '[1]', '5']) {
    assert.throws(() => new AggregatorHarness(aggregate, config), { tag: 'invalid-config' }, config);
  }
});
