// docs/openapi.json checked by a maintained OpenAPI 3.1 validator
// (@seriousme/openapi-schema-validator): the document matches the 3.1
// schema and every $ref resolves. Run by meson (node --test); LLMUX_OPENAPI_DOC
// names the document. That every route is in it is unit-app-openapi's check.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { Validator } from '@seriousme/openapi-schema-validator';

const path = process.env.LLMUX_OPENAPI_DOC;

test('the document is valid OpenAPI 3.1', async () => {
  assert.ok(path, 'LLMUX_OPENAPI_DOC is not set');
  const doc = JSON.parse(await readFile(path, 'utf8'));
  assert.equal(doc.openapi, '3.1.0');
  const v = new Validator();
  const res = await v.validate(doc);
  assert.equal(v.version, '3.1');
  assert.ok(res.valid, JSON.stringify(res.errors, null, 2));
  v.resolveRefs(); // throws on a $ref that leads nowhere
});

test('operation ids are unique and every operation has a 2xx answer (a 3xx for a redirect-only route)', async () => {
  const doc = JSON.parse(await readFile(path, 'utf8'));
  const ids = new Set();
  for (const [p, item] of Object.entries(doc.paths)) {
    for (const [m, op] of Object.entries(item)) {
      if (m === 'parameters') continue;
      assert.ok(op.operationId, `${m} ${p} has no operationId`);
      assert.ok(!ids.has(op.operationId), `operationId ${op.operationId} twice`);
      ids.add(op.operationId);
      const codes = Object.keys(op.responses);
      const redirect = codes.length > 0 && codes.every((c) => c.startsWith('3') || c.startsWith('4'));
      assert.ok(codes.some((c) => c.startsWith('2')) || (redirect && codes.some((c) => c.startsWith('3'))),
        `${m} ${p}: no 2xx`);
    }
  }
});
