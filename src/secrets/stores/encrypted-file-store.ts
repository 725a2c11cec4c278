/**
 * Encrypted per-environment files in the repository (the dotenvx model, with age encryption):
 * each environment's file (`.env.staging`, …) holds its public key and `NAME=encrypted:<base64>`
 * lines, and is committed. Anyone can add or replace a value with the public key alone; only the
 * holder of the environment's private key — AIRLOCK_SECRETS_KEY_<ENVIRONMENT>, that
 * environment's CI secret — can read them. A private key of another environment is refused with a
 * clear error rather than a garbled value.
 *
 * File format (line-oriented, so diffs show which names changed):
 * ```
 * #/ airlock encrypted secrets: public key below; values need AIRLOCK_SECRETS_KEY_STAGING
 * AIRLOCK_PUBLIC_KEY="age1…"
 * SESSION_SECRET="encrypted:YWdlLWVuY3J5cHRpb24u…"
 * ```
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Decrypter, Encrypter, generateX25519Identity, identityToRecipient } from 'age-encryption';
import { UserError } from '../../errors.ts';
import { forEnvironment, type SecretStore } from './secret-store.ts';

export const PUBLIC_KEY_NAME = 'AIRLOCK_PUBLIC_KEY';
const HEADER = '#/ airlock encrypted secrets';
const LINE = /^([A-Za-z_][A-Za-z0-9_]*)=(?:"([^"]*)"|(.*))$/;

/** The variable holding an environment's private key: AIRLOCK_SECRETS_KEY_STAGING. */
export function privateKeyVariable(environment: string): string {
  return `AIRLOCK_SECRETS_KEY_${environment.toUpperCase().replaceAll('-', '_')}`;
}

interface ParsedFile {
  publicKey: string | null;
  /** Name → `encrypted:<base64>` (or a plaintext value, which `read` refuses). */
  entries: Map<string, string>;
}

/** Parses an encrypted file's text. Blank lines and `#` comments are skipped. */
export function parseEncryptedFile(text: string): ParsedFile {
  const entries = new Map<string, string>();
  let publicKey: string | null = null;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = LINE.exec(line.replace(/^export\s+/, ''));
    if (!m) continue;
    const value = m[2] ?? m[3] ?? '';
    if (m[1] === PUBLIC_KEY_NAME) publicKey = value;
    else entries.set(m[1] as string, value);
  }
  return { publicKey, entries };
}

/** True when every value of a parsed `.env`-style file is encrypted (or empty). */
export function isEncryptedDotenv(text: string): boolean {
  const { entries } = parseEncryptedFile(text);
  for (const value of entries.values())
    if (value !== '' && !value.startsWith('encrypted:')) return false;
  return true;
}

export class EncryptedFileStore implements SecretStore {
  readonly kind = 'encrypted-file' as const;
  readonly #dir: string;
  readonly #template: string;
  readonly #env: Readonly<Record<string, string | undefined>>;
  readonly #home: string;

  /**
   * @param dir the project folder; `template` is relative to it.
   * @param env where private keys are read from (AIRLOCK_SECRETS_KEY_<ENVIRONMENT>).
   * @param home the Airlock home: `keys/<env>.key` there is read when the variable is not set.
   */
  constructor(
    dir: string,
    template: string,
    env: Readonly<Record<string, string | undefined>>,
    home: string,
  ) {
    this.#dir = dir;
    this.#template = template;
    this.#env = env;
    this.#home = home;
  }

  /** Where `keygen` leaves an environment's private key (mode 0600). */
  keyFile(environment: string): string {
    return path.join(this.#home, 'keys', `${environment}.key`);
  }

  file(environment: string): string {
    return path.resolve(this.#dir, forEnvironment(this.#template, environment));
  }

  where(environment: string): string {
    return path.relative(this.#dir, this.file(environment));
  }

  /**
   * Makes a key pair for `environment`: writes its file with the public key, and the private
   * key to {@link keyFile} (owner-only), for the person to put in that environment's CI secrets.
   * @throws UserError `SECRETS_FILE_EXISTS` when the file already has a public key.
   */
  async keygen(environment: string): Promise<{ publicKey: string; keyFile: string }> {
    const file = this.file(environment);
    if (existsSync(file) && parseEncryptedFile(readFileSync(file, 'utf8')).publicKey)
      throw new UserError(
        'SECRETS_FILE_EXISTS',
        `${this.where(environment)} already has a public key.`,
        {
          hint: 'Keep it (values encrypted with it would be lost), or delete the file to start over.',
        },
      );
    const privateKey = await generateX25519Identity();
    const publicKey = await identityToRecipient(privateKey);
    const keyFile = this.keyFile(environment);
    mkdirSync(path.dirname(keyFile), { recursive: true, mode: 0o700 });
    writeFileSync(keyFile, `${privateKey}\n`, { mode: 0o600 });
    chmodSync(keyFile, 0o600);
    this.#write(environment, publicKey, new Map());
    return { publicKey, keyFile };
  }

  async set(environment: string, values: Record<string, string>): Promise<void> {
    const { publicKey, entries } = this.#parsed(environment);
    for (const [name, value] of Object.entries(values)) {
      const e = new Encrypter();
      e.addRecipient(publicKey);
      entries.set(name, `encrypted:${Buffer.from(await e.encrypt(value)).toString('base64')}`);
    }
    this.#write(environment, publicKey, entries);
  }

  async read(environment: string): Promise<Record<string, string>> {
    const { entries } = this.#parsed(environment);
    const variable = privateKeyVariable(environment);
    const keyFile = this.keyFile(environment);
    const privateKey =
      this.#env[variable] || (existsSync(keyFile) ? readFileSync(keyFile, 'utf8') : '');
    if (!privateKey)
      throw new UserError(
        'SECRETS_KEY_MISSING',
        `${variable} is not set: the secrets of ${environment} in ${this.where(environment)} cannot be decrypted.`,
        {
          hint: `Set ${variable} to ${environment}'s private key (a CI secret of that environment only).`,
        },
      );
    const d = new Decrypter();
    try {
      d.addIdentity(privateKey.trim());
    } catch {
      throw new UserError(
        'SECRETS_KEY_INVALID',
        `${variable} is not an age private key (AGE-SECRET-KEY-1…).`,
        {
          hint: `Set it to the key \`airlock secret keygen ${environment}\` printed.`,
        },
      );
    }
    const out: Record<string, string> = {};
    for (const [name, value] of entries) {
      if (value === '') continue;
      if (!value.startsWith('encrypted:'))
        throw new UserError(
          'SECRETS_FILE_PLAINTEXT',
          `${name} in ${this.where(environment)} is not encrypted.`,
          {
            hint: `Remove the line and set it with \`airlock secret set ${environment} ${name}\`.`,
          },
        );
      try {
        out[name] = await d.decrypt(
          Buffer.from(value.slice('encrypted:'.length), 'base64'),
          'text',
        );
      } catch {
        throw new UserError(
          'SECRETS_KEY_WRONG',
          `${variable} does not decrypt ${name} in ${this.where(environment)}: it is not ${environment}'s private key (or the value was damaged).`,
          {
            hint: `Set ${variable} to the private key made with ${this.where(environment)}'s public key.`,
          },
        );
      }
    }
    return out;
  }

  async names(environment: string): Promise<string[]> {
    const file = this.file(environment);
    if (!existsSync(file)) return [];
    return [...parseEncryptedFile(readFileSync(file, 'utf8')).entries.keys()].sort();
  }

  #parsed(environment: string): { publicKey: string; entries: Map<string, string> } {
    const file = this.file(environment);
    const parsed = existsSync(file) ? parseEncryptedFile(readFileSync(file, 'utf8')) : null;
    if (!parsed?.publicKey)
      throw new UserError('SECRETS_FILE_MISSING', `${this.where(environment)} has no public key.`, {
        hint: `Run \`airlock secret keygen ${environment}\` to create it and its private key.`,
      });
    return { publicKey: parsed.publicKey, entries: parsed.entries };
  }

  #write(environment: string, publicKey: string, entries: Map<string, string>): void {
    const file = this.file(environment);
    const lines = [
      `${HEADER}: public key below; values need ${privateKeyVariable(environment)}`,
      `${PUBLIC_KEY_NAME}="${publicKey}"`,
      ...[...entries].sort(([a], [b]) => a.localeCompare(b)).map(([n, v]) => `${n}="${v}"`),
    ];
    mkdirSync(path.dirname(file), { recursive: true });
    const temporary = `${file}.${process.pid}.tmp`;
    writeFileSync(temporary, `${lines.join('\n')}\n`);
    renameSync(temporary, file);
  }
}
