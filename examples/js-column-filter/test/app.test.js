import assert from 'node:assert/strict';
import { test } from 'node:test';

import { columns } from '../app.js';

test('keeps at or above the threshold, drops rows without a number', () => {
  const spec = columns.configure('{"field":"/v","min":2}');
  assert.deepEqual(spec, { reads: [{ pointer: '/v', type: 'float' }], writes: [] });
  const column = {
    values: { tag: 'float', val: Float64Array.from([1, 2, 3, 0, 9]) },
    valid: [true, true, true, true, false],
  };
  const out = columns.process(5, [column]);
  assert.equal(out.tag, 'keep');
  assert.deepEqual([...out.val], [1, 2]);
});

test('refuses bad configuration', () => {
  assert.throws(() => columns.configure('{"field":"v","min":2}'), { tag: 'invalid-config' });
});
