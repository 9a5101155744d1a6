import assert from 'node:assert/strict';
import { test } from 'node:test';

import { AggregatorHarness, accumulate, finish, roundTrip } from '@eddy/plugin-sdk/testing';
import { Mean, aggregate } from '../app.js';

test('mean merges and round-trips', () => {
  const a = accumulate(Mean, [1, 2, NaN]);
  a.merge(accumulate(Mean, [3, 6]));
  assert.deepEqual(finish(a), [3]);
  assert.deepEqual(finish(roundTrip(a)), [3]);
  assert.ok(Number.isNaN(finish(new Mean())[0]));
});

test('as the host drives it', () => {
  const h = new AggregatorHarness(aggregate);
  h.accumulate([0, 1, 0, 2], [1, 10, 3, 5]);
  h.merge([0], [2]);
  assert.deepEqual(h.finish([0, 1]), [3, 10]);
  const saved = h.save([0, 1]);
  assert.deepEqual(Array.from(saved.offsets), [0, 16, 32]);
  const fresh = new AggregatorHarness(aggregate);
  fresh.restore([4, 5], saved);
  fresh.accumulate([4], [9]);
  assert.deepEqual(fresh.finish([4, 5]), [4.5, 10]);
});

test('refuses configuration', () => {
  assert.throws(() => new AggregatorHarness(aggregate, '{"x":1}'), { tag: 'invalid-config' });
});
