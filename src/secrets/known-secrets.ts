/**
 * Every value Airlock knows to be secret in one command, and one mask applied at every sink
 * (the terminal and `--json` through the reporter, state rows and audit events through the state
 * store, notifications and GitHub statuses through the event bus). The values: each environment's
 * database URL and its password (in the `user:password@` form and as `?password=`), the state URL's
 * password, `${NAME}` references whose name looks like a credential, the environment's secrets the
 * caller passes in (the local secrets files), and every variable of Airlock's own environment whose
 * name looks like a credential (`GITHUB_TOKEN`, `FLY_API_TOKEN_PRODUCTION`, `CLOUDFLARE_API_TOKEN`,
 * `*_DATABASE_URL`, …).
 */
import type { ResolvedConfig } from '../config/resolve.ts';
import { MIN_SECRET_LENGTH, redactForms, secretForms } from './redact.ts';

/**
 * A name whose value is a credential: `*_TOKEN`, `*_SECRET`, `*PASSWORD*`, `*_KEY` (`API_KEY`,
 * `PRIVATE_KEY`), `*DATABASE_URL*`, `*_DSN`, `*CREDENTIALS*`, `*_AUTH` / `AUTH_TOKEN`-like names.
 */
export function isCredentialName(name: string): boolean {
  return /TOKEN|SECRET|PASSW(OR)?D|PASSPHRASE|(^|_)(API_)?KEY$|PRIVATE_KEY|CREDENTIAL|_AUTH$|^AUTH_|DATABASE_URL|_DSN$|STATE_URL|COOKIE/i.test(
    name,
  );
}

/**
 * Shortest value (characters) taken as a secret only because of its variable's name: a
 * credential is long; a short value under such a name (`AUTH_MODE=basic`) is not masked, so
 * output is not garbled. Values known to be secrets are masked from {@link MIN_SECRET_LENGTH}.
 */
export const MIN_GUESSED_SECRET_LENGTH = 8;

/** The password of a connection URL, in the user info or as `?password=`; none when it has none. */
export function urlPasswords(value: string): string[] {
  if (!value.includes('://')) return [];
  try {
    const url = new URL(value);
    const out = [decodeURIComponent(url.password), url.password];
    const query = url.searchParams.get('password');
    if (query) out.push(query);
    return out.filter((p) => p.length > 0);
  } catch {
    return [];
  }
}

/**
 * The secret values of a command: see the module comment.
 * @param extra values known to be secret from elsewhere (the environment's secrets).
 */
export function knownSecrets(
  config: ResolvedConfig,
  env: Readonly<Record<string, string | undefined>>,
  extra: readonly string[] = [],
): string[] {
  const values = new Set<string>();
  // A connection URL is masked by its password (its host and user are no secret: messages show
  // them); any other value whole.
  const add = (value: string | null | undefined, min = MIN_SECRET_LENGTH) => {
    if (!value || value.length < min) return;
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
      for (const p of urlPasswords(value)) if (p.length >= MIN_SECRET_LENGTH) values.add(p);
      return;
    }
    values.add(value);
  };
  for (const [name, value] of Object.entries(env))
    if (isCredentialName(name)) add(value, MIN_GUESSED_SECRET_LENGTH);
  if (config.state.kind === 'postgres') add(config.state.url);
  if (config.state.kind === 'd1') add(config.state.apiToken);
  for (const environment of Object.values(config.environments)) {
    for (const service of Object.values(environment.services)) {
      add(service.database?.url);
      for (const ref of service.references)
        if (isCredentialName(ref.name)) add(ref.value, MIN_GUESSED_SECRET_LENGTH);
    }
  }
  for (const value of extra) add(value);
  return [...values];
}

/**
 * The mask of one command: {@link SecretMask.text} for a string, {@link SecretMask.deep} for any
 * JSON-like value (strings inside objects and arrays masked, other values kept). Values may be
 * added as they become known (a secret set during the command).
 */
export class SecretMask {
  #values = new Set<string>();
  #forms: string[] = [];

  constructor(values: readonly string[] = []) {
    this.add(values);
  }

  /** Adds values to hide from now on. */
  add(values: readonly (string | null | undefined)[]): void {
    let changed = false;
    for (const v of values)
      if (v && !this.#values.has(v)) {
        this.#values.add(v);
        changed = true;
      }
    if (changed) this.#forms = secretForms([...this.#values]);
  }

  /** How many values are hidden. */
  get size(): number {
    return this.#values.size;
  }

  text(value: string): string {
    return this.#forms.length ? redactForms(value, this.#forms) : value;
  }

  /** `value` with every string in it masked; a new object only where something changed. */
  deep<T>(value: T): T {
    if (this.#forms.length === 0) return value;
    return this.#deep(value) as T;
  }

  #deep(value: unknown): unknown {
    if (typeof value === 'string') return this.text(value);
    if (Array.isArray(value)) return value.map((v) => this.#deep(v));
    if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = this.#deep(v);
      return out;
    }
    return value;
  }
}
