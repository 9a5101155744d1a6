import assert from 'node:assert/strict';
import { test } from 'node:test';

import { runTransform } from '@eddy/plugin-sdk/testing';
import { transformer } from '../app.js';

test('keeps at or above the threshold', () => {
  const events = ['{"v":1}', '{"v":2}', '{"v":3}', '{"v":0}', '{"b":9}', 'not json', '{"v":true}'];
  assert.deepEqual(runTransform(transformer, events, '{"field":"/v","min":2}'), [1, 2]);
});

test('nested pointer', () => {
  const events = ['{"a":{"b":[5,1]}}', '{"a":{"b":[0]}}'];
  assert.deepEqual(runTransform(transformer, events, '{"field":"/a/b/0","min":2}'), [0]);
});

test('refuses bad configuration', () => {
  assert.throws(() => runTransform(transformer, [], '{"field":"v","min":2}'), { tag: 'invalid-config' });
});

test('array indices and payloads as the Rust threshold-filter reads them', () => {
  const events = [
    '{"a":[5]}',
    '{"a":[1,5]}',
    '{"a":{"01":5}}',
    new Uint8Array([...new TextEncoder().encode('{"a":[5],"s":"'), 0xff, 0x22, 0x7d]),
  ];
  assert.deepEqual(runTransform(transformer, events, '{"field":"/a/0","min":2}'), [0]);
  assert.deepEqual(runTransform(transformer, events, '{"field":"/a/length","min":1}'), []);
  assert.deepEqual(runTransform(transformer, events, '{"field":"/a/01","min":2}'), [2]);
});
