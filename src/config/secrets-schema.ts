/**
 * The `secrets:` section of `airlock.yaml`: which secret names each environment needs, which
 * names may hold the same value in several environments (external API keys, shared on purpose),
 * and where the values live (the platform's own secrets, encrypted files in the repository, or
 * Infisical). Enforced by `airlock secret set`, the `secrets` gate and `airlock diff`
 * (docs/secrets.md).
 */
import { z } from 'zod';
import { field, nameSchema } from './schema-fields.ts';

const secretName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, {
  error: 'a secret name (letters, digits and _, not starting with a digit), e.g. STRIPE_KEY',
});

const template = (what: string) =>
  z.string().min(1, { error: `${what} (may contain {environment})` });

export const secretStoreSchema = z.union([
  z.literal('platform'),
  z.strictObject({
    encryptedFile: field(
      z.strictObject({
        path: field(template('a path inside the project').default('.env.{environment}'), {
          description:
            'The encrypted file of each environment, relative to the project; `{environment}` is replaced by its name. Committed: it holds the public key and the encrypted values only.',
          examples: ['.env.{environment}'],
        }),
      }),
      {
        description:
          "Encrypted per-environment files in the repository (the dotenvx model, age encryption): `airlock secret set` encrypts with the file's public key; a deployment decrypts with the private key from AIRLOCK_SECRETS_KEY_<ENVIRONMENT> (that environment's CI secret). Create a file and its key pair with `airlock secret keygen <environment>`.",
        examples: [{ path: '.env.{environment}' }],
      },
    ),
  }),
  z.strictObject({
    infisical: field(
      z.strictObject({
        url: field(z.string().url().default('https://app.infisical.com'), {
          description: 'Base URL of the Infisical instance (without /api).',
          examples: ['https://eu.infisical.com'],
        }),
        projectId: field(z.string().min(1), {
          description: 'The Infisical project (workspace) id.',
          examples: ['6f1c2a1e-8b0e-4a8e-9d0c-2f1d3b4c5a6e'],
        }),
        environment: field(template('an Infisical environment slug').default('{environment}'), {
          description:
            'The Infisical environment slug of each Airlock environment; `{environment}` is replaced by its name.',
          examples: ['{environment}', 'prod'],
        }),
        path: field(template('a secret path').default('/'), {
          description:
            "The secret path (folder) of each environment; `{environment}` is replaced by its name. The access token comes from INFISICAL_TOKEN, or a machine identity's INFISICAL_CLIENT_ID and INFISICAL_CLIENT_SECRET (universal auth).",
          examples: ['/', '/airlock/{environment}'],
        }),
      }),
      {
        description:
          "Infisical: each environment's secrets at its own environment slug and path; `airlock secret set` writes there and a deployment reads them.",
        examples: [{ projectId: '6f1c2a1e-…', path: '/{environment}' }],
      },
    ),
  }),
]);

export const secretsSchema = z.strictObject({
  required: field(
    z
      .union([z.array(secretName), z.record(nameSchema('environment'), z.array(secretName))])
      .optional(),
    {
      description:
        'Secret names every environment must have (a list), or the names per environment (a map). A name missing on the environment promoted into fails the `secrets` gate.',
      examples: [['SESSION_SECRET', 'STRIPE_KEY'], { production: ['SESSION_SECRET'] }],
    },
  ),
  shared: field(z.array(secretName).default([]), {
    description:
      'Names whose value may be the same in several environments (external API keys shared on purpose). Any other name holding a value another environment holds is refused by `airlock secret set`, fails the `secrets` gate and is shown by `airlock diff`.',
    examples: [['MAPS_API_KEY']],
  }),
  store: field(secretStoreSchema.default('platform'), {
    description:
      "Where the values live: `platform` (the provider's secrets: wrangler, fly, Railway, the local secrets file), `{ encryptedFile: … }` or `{ infisical: … }`. With a store, a deployment copies the environment's values to the platform before it starts the release.",
    examples: ['platform', { encryptedFile: { path: '.env.{environment}' } }],
  }),
});

export type SecretsConfig = z.output<typeof secretsSchema>;
export type SecretStoreConfig = z.output<typeof secretStoreSchema>;
