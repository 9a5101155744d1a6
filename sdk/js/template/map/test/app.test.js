import assert from 'node:assert/strict';
import { test } from 'node:test';

import { runTransform } from '@eddy/plugin-sdk/testing';
import { transformer } from '../app.js';

test('trims', () => {
  assert.deepEqual(runTransform(transformer, [['  {"a":1} \n', 7]]), [
    { payload: '{"a":1}', timestamp: 7, origin: 0 },
  ]);
});
