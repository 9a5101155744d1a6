import assert from 'node:assert/strict';
import { test } from 'node:test';

import { runTransform } from '@eddy/plugin-sdk/testing';
import { transformer } from '../app.js';

test('drops empty events', () => {
  assert.deepEqual(runTransform(transformer, ['{}', ' ', '{"a":1}']), [0, 2]);
});
