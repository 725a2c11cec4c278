import { describe, expect, it } from 'vitest';
import { interpolate, interpolateJson, matchJsonSubset } from '../../src/checks/interpolate.ts';
import { context } from './test-server.ts';

const ctx = context('http://127.0.0.1:1');

describe('interpolate', () => {
  it('replaces the known placeholders and leaves unknown ones as written', () => {
    expect(
      interpolate(
        `\${release.id}/\${release.commit}/\${release.digest}/\${environment}/\${service}/\${nope}`,
        ctx,
      ),
    ).toBe(`r3/c0ffee/${'d'.repeat(64)}/staging/notes/\${nope}`);
  });

  it('recurses through JSON, leaving keys and non-strings alone', () => {
    const serviceKey = `\${service}`;
    expect(
      interpolateJson(
        { [serviceKey]: [`\${release.id}`, 3, null, { env: `\${environment}` }] },
        ctx,
      ),
    ).toEqual({ [serviceKey]: ['r3', 3, null, { env: 'staging' }] });
  });
});

describe('matchJsonSubset', () => {
  it('accepts a subset with extra keys in the actual value', () => {
    expect(matchJsonSubset({ a: 1, b: { c: 'x', d: true }, e: [1] }, { b: { c: 'x' } })).toBeNull();
  });

  it('names the first mismatch by its JSON path', () => {
    expect(matchJsonSubset({ release: 'r2' }, { release: 'r3' })).toBe(
      'body.release was "r2", expected "r3"',
    );
    expect(matchJsonSubset({ db: {} }, { db: { status: 'ok' } })).toBe(
      'body.db.status is missing, expected "ok"',
    );
    expect(
      matchJsonSubset({ items: [{ id: 1 }, { id: 2 }] }, { items: [{ id: 1 }, { id: 3 }] }),
    ).toBe('body.items[1].id was 2, expected 3');
    expect(matchJsonSubset({ items: [1] }, { items: [1, 2] })).toBe(
      'body.items has 1 element, expected 2',
    );
    expect(matchJsonSubset({ 'x-y': 1 }, { 'x-y': '1' })).toBe('body["x-y"] was 1, expected "1"');
    expect(matchJsonSubset('text', { a: 1 })).toBe('body was a string, expected an object');
    expect(matchJsonSubset({ a: null }, { a: 0 })).toBe('body.a was null, expected 0');
  });
});
