/**
 * Provider settings of a service in `airlock.yaml`: each platform provider reads the user's own
 * files (wrangler.toml, fly.toml, railway.json); these settings say only which file, which
 * environment or app, and how to reach it. `provider: command` gets its own commands.
 */
import { z } from 'zod';
import { field, msSchema } from './schema-fields.ts';

export const cloudflareSettingsSchema = z.strictObject({
  config: field(z.string().min(1).optional(), {
    description:
      "The Worker's wrangler file, relative to the service folder. Default: the first of wrangler.jsonc, wrangler.json, wrangler.toml there.",
    examples: ['wrangler.toml'],
  }),
  env: field(z.string().min(1).nullable().optional(), {
    description:
      'The wrangler environment this Airlock environment deploys as: null for the top level, or the name of an [env.<name>] section. Default: the top level for the first environment of the pipeline and the Airlock environment name for the others (the usual Workers layout: staging at the top level, production in env.production).',
    examples: ['production'],
  }),
  mode: field(z.enum(['remote', 'local']).optional(), {
    description:
      "Default `remote`. `remote`: deploy to Cloudflare with the project's own wrangler (CLOUDFLARE_API_TOKEN, CLOUDFLARE_ACCOUNT_ID). `local`: run the Worker with `wrangler dev` (workerd) on this machine behind the environment's port, its D1 databases in the Airlock home of the project (envs/<env>/wrangler/).",
    examples: ['local'],
  }),
  accountId: field(z.string().min(1).optional(), {
    description:
      'Cloudflare account id for remote D1 migrations. Default: CLOUDFLARE_ACCOUNT_ID, then account_id in the wrangler file.',
    examples: ['0123456789abcdef0123456789abcdef'],
  }),
});

export const flySettingsSchema = z.strictObject({
  config: field(z.string().min(1).optional(), {
    description:
      'The fly.toml of this environment, relative to the service folder. Default: fly.<environment>.toml when it exists (e.g. fly.staging.toml), else fly.toml.',
    examples: ['fly.staging.toml'],
  }),
  app: field(z.string().min(1).optional(), {
    description: 'The Fly app (`-a`). Default: `app` in that fly.toml.',
    examples: ['notes-staging'],
  }),
  url: field(z.string().url().optional(), {
    description:
      "The environment's public URL (a custom domain), where checks run. Default: the app's hostname, https://<app>.fly.dev.",
    examples: ['https://staging.notes.example.com'],
  }),
});

export const railwaySettingsSchema = z.strictObject({
  project: field(z.string().min(1).optional(), {
    description: 'The Railway project id. Default: RAILWAY_PROJECT_ID, then the linked project.',
    examples: ['6f1c2d3e-…'],
  }),
  environment: field(z.string().min(1).optional(), {
    description: 'The Railway environment. Default: the Airlock environment name.',
    examples: ['production'],
  }),
  service: field(z.string().min(1).optional(), {
    description: 'The Railway service. Default: the Airlock service name.',
    examples: ['web'],
  }),
  url: field(z.string().url().optional(), {
    description:
      "The environment's public URL (a custom domain), where checks run. Default: the service's RAILWAY_PUBLIC_DOMAIN.",
    examples: ['https://notes.example.com'],
  }),
});

export const commandSettingsSchema = z.strictObject({
  deploy: field(z.string().min(1).optional(), {
    description:
      'Deploys the release (required for provider: command). Runs in the service folder with AIRLOCK_ARTIFACT_DIR, AIRLOCK_ENV, AIRLOCK_SERVICE, AIRLOCK_RELEASE, AIRLOCK_COMMIT, AIRLOCK_DIGEST and the vars set; the last line it prints that is a URL is the service URL. Exit 0 means deployed.',
    examples: ['./deploy.sh'],
  }),
  rollback: field(z.string().min(1).optional(), {
    description:
      'Serves an earlier release again (same variables, AIRLOCK_RELEASE being the earlier one). Default: the deploy command with the earlier release.',
    examples: ['./rollback.sh'],
  }),
  url: field(z.string().min(1).optional(), {
    description:
      "The service URL: a URL, or a command that prints it (run with the deploy command's variables). Default: the last line of the deploy command's output that is a URL.",
    examples: ['https://notes.example.com'],
  }),
  describe: field(z.string().min(1).optional(), {
    description:
      'Prints what serves as JSON: {"release": "r3", "url": "…", "healthy": true}. Default: what Airlock last deployed.',
    examples: ['./status.sh'],
  }),
  secrets: field(z.string().min(1).optional(), {
    description:
      'Sets one secret: gets AIRLOCK_SECRET_NAME, and the value on standard input (never in argv or the environment).',
    examples: ['./set-secret.sh'],
  }),
  timeoutMs: field(msSchema.optional(), {
    description: 'Kill a command after this long (ms). Default 600000.',
    examples: [600000],
  }),
});

/** The provider sections of a service (all inheritable), spread into its fields. */
export const providerSettingsFields = {
  cloudflare: field(cloudflareSettingsSchema.optional(), {
    description: 'Settings for `provider: cloudflare` (Workers, D1).',
    examples: [{ env: 'production' }],
    inherit: 'inheritable',
  }),
  fly: field(flySettingsSchema.optional(), {
    description: 'Settings for `provider: fly`.',
    examples: [{ config: 'fly.staging.toml' }],
    inherit: 'inheritable',
  }),
  railway: field(railwaySettingsSchema.optional(), {
    description: 'Settings for `provider: railway`.',
    examples: [{ environment: 'production' }],
    inherit: 'inheritable',
  }),
  command: field(commandSettingsSchema.optional(), {
    description: 'Settings for `provider: command`: your own deploy, rollback and URL commands.',
    examples: [{ deploy: './deploy.sh', url: 'https://notes.example.com' }],
    inherit: 'inheritable',
  }),
};
