/**
 * The one place secrets are hidden. Every writer of output, logs, state and errors (platform CLI
 * and shell output, notifier and GitHub errors, database URLs in messages and `config show`)
 * replaces a secret with {@link MASK} through {@link redact} or {@link redactUrl}; nothing else in
 * `src/` masks by hand (a test greps for copies).
 *
 * The rule, as wrangler, flyctl and GitHub Actions' log masking apply it: every known value is
 * replaced wherever it occurs, longest first (so a value that contains another is hidden whole),
 * in each form it can be written in (see {@link secretForms}). Values shorter than
 * {@link MIN_SECRET_LENGTH} characters are left alone: masking `ab` everywhere would garble
 * output without hiding anything a reader could not guess.
 */

/** What a secret is replaced with, everywhere. */
export const MASK = '***';

/**
 * Shortest value (characters) that is masked; shorter ones are left as they are. A line of a
 * multi-line value counts with its surrounding whitespace trimmed.
 */
export const MIN_SECRET_LENGTH = 4;

/**
 * Every string to replace for `secrets`, longest first, without duplicates: each value (of at
 * least {@link MIN_SECRET_LENGTH} characters), its URL-encoded form (`encodeURIComponent`, as it
 * appears in a URL or a form body), its JSON-escaped form (as it appears inside a JSON string), and
 * for a multi-line value (a PEM key) each of its lines, because output is read and masked line
 * by line. Empty, `undefined` and `null` entries are skipped.
 *
 * Callers that mask many texts with the same secrets compute this once and pass it to
 * {@link redactForms}.
 */
export function secretForms(secrets: readonly (string | null | undefined)[]): string[] {
  const forms = new Set<string>();
  const add = (form: string) => {
    if (form.trim().length >= MIN_SECRET_LENGTH) forms.add(form);
  };
  for (const value of secrets) {
    if (!value || value.length < MIN_SECRET_LENGTH) continue;
    for (const form of [value, encodeURIComponent(value), JSON.stringify(value).slice(1, -1)]) {
      add(form);
    }
    if (value.includes('\n')) for (const line of value.split(/\r?\n/)) add(line);
  }
  return [...forms].sort((a, b) => b.length - a.length);
}

/** `text` with every one of `forms` (from {@link secretForms}, longest first) replaced by {@link MASK}. */
export function redactForms(text: string, forms: readonly string[]): string {
  let out = text;
  for (const form of forms) if (out.includes(form)) out = out.replaceAll(form, MASK);
  return out;
}

/**
 * `text` with every secret of `secrets`, in every form of {@link secretForms}, replaced by
 * {@link MASK}. Values shorter than {@link MIN_SECRET_LENGTH} are left alone.
 *
 * @example redact('token=abcd1234 x', ['abcd1234', 'x']) // 'token=*** x'
 */
export function redact(text: string, secrets: readonly (string | null | undefined)[]): string {
  return redactForms(text, secretForms(secrets));
}

/**
 * A connection URL (`postgres://user:password@host/db`) with its password, in the user info or
 * as a `password` query parameter, replaced by {@link MASK}, for messages and `config show`. A
 * value that does not parse as a `scheme://` URL gets everything between the user name and the
 * last `@` masked (a raw password may hold `/` or `@`); one without `@` is returned as it is.
 *
 * @example redactUrl('postgres://app:s3cret@db:5432/app') // 'postgres://app:***@db:5432/app'
 */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    // `user:password@host` parses as a URL of scheme `user:`: only `scheme://` counts here.
    if (!url.includes('://')) throw new TypeError('no authority');
    parsed = new URL(url);
  } catch {
    const withScheme = /^([a-z][a-z0-9+.-]*:\/\/[^:/@]*):.*@/is;
    if (withScheme.test(url)) return url.replace(withScheme, `$1:${MASK}@`);
    return url.replace(/^([^:/@]*):.*@/s, `$1:${MASK}@`);
  }
  if (parsed.password) parsed.password = MASK;
  if (parsed.searchParams.has('password')) parsed.searchParams.set('password', MASK);
  return parsed.href;
}
