import assert from 'node:assert/strict';
import { test } from 'node:test';

import { AggregatorHarness, accumulate, finish, roundTrip } from '@eddy/plugin-sdk/testing';
import { Plugin, aggregate } from '../app.js';

test('adds, merges and round-trips', () => {
  const a = accumulate(Plugin, [1, 2.5, NaN]);
  a.merge(accumulate(Plugin, [0.5]));
  assert.deepEqual(finish(a), [4]);
  assert.deepEqual(finish(roundTrip(a)), [4]);
});

test('as the host drives it', () => {
  const h = new AggregatorHarness(aggregate);
  h.accumulate([0, 1, 0], [1, 2, 3]);
  assert.deepEqual(h.finish([0, 1]), [4, 2]);
});
