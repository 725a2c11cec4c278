/**
 * The one redaction of Airlock (src/secrets/redact.ts): every form of a secret it hides, the
 * length rule, connection URLs, and a scan of src/ that keeps masking from being copied
 * elsewhere again.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  MASK,
  MIN_SECRET_LENGTH,
  redact,
  redactForms,
  redactUrl,
  secretForms,
} from '../../src/secrets/redact.ts';

describe('redact', () => {
  it('replaces every occurrence of each secret with the one mask', () => {
    expect(MASK).toBe('***');
    expect(redact('token=abcd1234 and again abcd1234.', ['abcd1234'])).toBe(
      'token=*** and again ***.',
    );
    expect(redact('a=one-secret b=two-secret', ['one-secret', 'two-secret'])).toBe('a=*** b=***');
  });

  it('hides a secret that contains another one whole (longest first)', () => {
    const short = 'hunter2-value';
    const long = `${short}-api`;
    expect(redact(`k=${long} s=${short}`, [short, long])).toBe('k=*** s=***');
  });

  it('hides the URL-encoded and JSON-escaped forms of a secret', () => {
    const secret = 'p@ss/w"rd+1';
    expect(redact(`https://x/?token=${encodeURIComponent(secret)}`, [secret])).toBe(
      'https://x/?token=***',
    );
    expect(redact(JSON.stringify({ value: secret }), [secret])).toBe('{"value":"***"}');
  });

  it('hides each line of a multi-line secret, as output is read line by line', () => {
    const pem = '-----BEGIN KEY-----\nMIIBOgIBAAJBAKj34GkxFhD9\n}\n-----END KEY-----';
    expect(redact('line: MIIBOgIBAAJBAKj34GkxFhD9', [pem])).toBe('line: ***');
    expect(redact(pem, [pem])).toBe('***');
    // A line too short to be a secret on its own ("}") stays: masking it would garble output.
    expect(secretForms([pem])).not.toContain('}');
  });

  it(`leaves values shorter than ${MIN_SECRET_LENGTH} characters, empty and missing ones alone`, () => {
    expect(redact('a b abc', ['a', 'abc', '', undefined, null])).toBe('a b abc');
    expect(redact('token=abcd x', ['abcd', 'x'])).toBe('token=*** x');
  });

  it('gives the same text through precomputed forms', () => {
    const forms = secretForms(['s3cret-value', 's3cret-value']);
    expect(forms.filter((f) => f === 's3cret-value')).toHaveLength(1);
    expect(redactForms('x s3cret-value y', forms)).toBe(
      redact('x s3cret-value y', ['s3cret-value']),
    );
    expect(redactForms('nothing here', [])).toBe('nothing here');
  });
});

describe('redactUrl', () => {
  it('masks the password of a connection URL and keeps the rest', () => {
    expect(redactUrl('postgres://app:s3cret@db.internal:5432/notes')).toBe(
      'postgres://app:***@db.internal:5432/notes',
    );
    expect(redactUrl('postgres://app@db.internal/notes')).toBe('postgres://app@db.internal/notes');
  });

  it('masks a password given as a query parameter', () => {
    const shown = redactUrl(
      'postgres://db.internal/notes?user=app&password=s3cret&sslmode=require',
    );
    expect(shown).not.toContain('s3cret');
    expect(new URL(shown).searchParams.get('password')).toBe(MASK);
    expect(new URL(shown).searchParams.get('sslmode')).toBe('require');
  });

  it('masks the password of a value that does not parse as a URL', () => {
    const shown = redactUrl('postgres://app:pa/ss@word@db.internal:notaport/notes');
    expect(shown).toBe('postgres://app:***@db.internal:notaport/notes');
    expect(redactUrl('app:s3cret@db.internal')).toBe('app:***@db.internal');
    expect(redactUrl('not a url')).toBe('not a url');
  });
});

describe('one home for masking', () => {
  const SRC = path.resolve(import.meta.dirname, '../../src');
  const files = (readdirSync(SRC, { recursive: true }) as string[])
    .filter((f) => f.endsWith('.ts') && !f.startsWith(`secrets${path.sep}`))
    .map((f) => path.join(SRC, f));

  it('finds no mask outside src/secrets/', () => {
    // A literal mask (any of the ones used before there was one home), a password overwritten
    // with something other than nothing: both mean masking was written again by hand.
    const copies = [
      /['"`]\*{3}['"`]/,
      /:\*{3}@/,
      /••••/,
      /\[REDACTED\]/,
      /\.password\s*=\s*['"`][^'"`]/,
    ];
    const found = files.flatMap((file) =>
      readFileSync(file, 'utf8')
        .split('\n')
        .flatMap((line, i) =>
          copies.some((re) => re.test(line))
            ? [`${path.relative(SRC, file)}:${i + 1}: ${line.trim()}`]
            : [],
        ),
    );
    expect(found, 'mask through src/secrets/redact.ts (redact, redactUrl)').toEqual([]);
    expect(files.length).toBeGreaterThan(100);
  });
});
