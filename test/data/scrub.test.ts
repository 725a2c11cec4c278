/**
 * The keyed hash behind the pseudonyms (SipHash-2-4-128 against the reference implementation's
 * vectors), and the byte-level COPY transform: the same pseudonyms as the rules' function form
 * (what the SQLite copy uses), whatever the chunk boundaries, with escapes, NULLs and UTF-8 kept
 * right.
 */
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, test } from 'vitest';
import { RowTransform } from '../../src/data/copy-postgres.ts';
import { planTables } from '../../src/data/scrub.ts';
import { siphash128, sipKey } from '../../src/data/siphash.ts';

// vectors_sip128 of the SipHash reference implementation: key 00..0f, input 00..(n-1).
const VECTORS: Record<number, string> = {
  0: 'a3817f04ba25a8e66df67214c7550293',
  1: 'da87c1d86b99af44347659119b22fc45',
  7: 'a1f1ebbed8dbc153c0b84aa61ff08239',
  8: '3b62a9ba6258f5610f83e264f31497b4',
  15: '5493e99933b0a8117e08ec0f97cfc3d9',
  16: '6ee2a4ca67b054bbfd3315bf85230577',
  63: '5150d1772f50834a503e069a973fbd7c',
};

describe('siphash128', () => {
  test('matches the reference vectors, also on a range inside a larger buffer', () => {
    const key = sipKey(Uint8Array.from({ length: 16 }, (_, i) => i));
    const out = new Uint8Array(16);
    for (const [n, want] of Object.entries(VECTORS)) {
      const data = Uint8Array.from({ length: Number(n) }, (_, i) => i);
      siphash128(key, data, 0, data.length, out);
      expect(Buffer.from(out).toString('hex'), `${n} bytes`).toBe(want);
      const padded = new Uint8Array(data.length + 10).fill(0xff);
      padded.set(data, 3);
      siphash128(key, padded, 3, 3 + data.length, out);
      expect(Buffer.from(out).toString('hex'), `${n} bytes at offset 3`).toBe(want);
    }
  });
});

const COLUMNS = ['id', 'email', 'name', 'phone', 'note', 'tag'];
const SETTINGS = {
  scrub: {
    't.email': 'email',
    't.name': 'fullName',
    't.phone': 'phone',
    't.note': 'null',
    't.tag': 'hash',
  } as const,
  keep: ['t.id'],
  exclude: [],
  strict: true,
};
const plan = (salt: string) =>
  planTables([{ table: 't', columns: COLUMNS }], SETTINGS, salt, 'x')[0]!;

async function transform(salt: string, text: string, chunkSize: number): Promise<string> {
  const bytes = Buffer.from(text);
  const chunks: Buffer[] = [];
  for (let o = 0; o < bytes.length; o += chunkSize) chunks.push(bytes.subarray(o, o + chunkSize));
  const out: Buffer[] = [];
  const t = new RowTransform(plan(salt), () => {});
  await pipeline(
    Readable.from(chunks),
    t,
    new Writable({
      write(c, _e, done) {
        out.push(c);
        done();
      },
    }),
  );
  expect(t.rows).toBe(text.split('\n').length - 1);
  return Buffer.concat(out).toString('utf8');
}

describe('the COPY transform', () => {
  const SALT = 'unit-salt-0123456789abcdef';
  // COPY text: tabs between fields, \N for NULL, backslash escapes inside values, UTF-8.
  const rows = [
    ['1', 'ann@real.test', 'Ann Real', '+1 202 555 0101', 'secret note', 'abc'],
    ['2', 'björk@réal.test', 'Björk Guðmundsdóttir', '\\N', '\\N', 'x'],
    ['3', 'tab\\there@real.test', 'back\\\\slash', 'new\\nline', 'n', ''],
  ];
  const text = `${rows.map((r) => r.join('\t')).join('\n')}\n`;

  test('gives the function form pseudonyms (as SQLite gets them), whatever the chunk size', async () => {
    const p = plan(SALT);
    const fn = (column: string, value: string | null) => p.transform.get(column)?.(value) ?? null;
    const decoded = [
      ['1', 'ann@real.test', 'Ann Real', '+1 202 555 0101'],
      ['2', 'björk@réal.test', 'Björk Guðmundsdóttir', null],
      ['3', 'tab\there@real.test', 'back\\slash', 'new\nline'],
    ] as const;
    const want = `${decoded
      .map(([id, email, name, phone], i) =>
        [
          id,
          fn('email', email),
          fn('name', name),
          phone === null ? '\\N' : fn('phone', phone),
          '\\N',
          fn('tag', rows[i]![5]!),
        ].join('\t'),
      )
      .join('\n')}\n`;
    for (const size of [1, 7, 64, 1 << 16]) expect(await transform(SALT, text, size)).toBe(want);

    const [first] = want.split('\n');
    expect(first).toMatch(
      /^1\t[a-z]+\.[a-z]+\.[0-9a-f]{10}@example\.com\t[A-Z][A-Za-z']+ [A-Z][A-Za-z']+\t\+1 555 \d{7}\t\\N\t[0-9a-f]{32}$/,
    );
    expect(want).not.toMatch(/real\.test|Ann Real|Björk|0101/);
  });

  test('the same salt gives the same pseudonyms; another salt others', async () => {
    const once = await transform(SALT, text, 64);
    expect(await transform(SALT, text, 5)).toBe(once);
    const other = await transform('another-salt-0123456789', text, 64);
    expect(other).not.toBe(once);
    expect(other.split('\t')[0]).toBe('1');
  });
});
