/**
 * The least environment for the commands Airlock runs on the user's behalf (command checks,
 * builds): what a shell and a package manager need to work, never the
 * CLI's whole environment. A staging check must not see `PRODUCTION_DATABASE_URL`,
 * `FLY_API_TOKEN_PRODUCTION` or `GITHUB_TOKEN` just because the CLI that runs it holds them; a
 * command that needs a variable declares it (`env:` of the check or the build, where `${NAME}`
 * reads it on purpose).
 */
import { isCredentialName } from '../secrets/known-secrets.ts';

/**
 * What any child needs to run at all: where programs are, who and where it is, the locale, the
 * time zone and a temp folder. An app the local runtime starts gets only these of the CLI's
 * environment (`providers/local/app-process.ts`); a user's command gets more (below).
 */
export const BASIC_ENV_KEYS = [
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'SHELL',
  'LANG',
  'LC_ALL',
  'LC_CTYPE',
  'TZ',
  'TMPDIR',
] as const;

/** Variables passed through by name: the basics, terminals, proxies, CA bundles, tool homes. */
const PASSED = new Set<string>([
  ...BASIC_ENV_KEYS,
  'LANGUAGE',
  'TERM',
  'COLORTERM',
  'NO_COLOR',
  'FORCE_COLOR',
  'TZ',
  'TMPDIR',
  'TMP',
  'TEMP',
  'CI',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'http_proxy',
  'https_proxy',
  'no_proxy',
  'NODE_EXTRA_CA_CERTS',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
  'NODE_OPTIONS',
  'PNPM_HOME',
  'NVM_DIR',
  'VOLTA_HOME',
  'COREPACK_HOME',
  'XDG_CACHE_HOME',
  'XDG_CONFIG_HOME',
  'XDG_DATA_HOME',
  'XDG_STATE_HOME',
  'XDG_RUNTIME_DIR',
]);

/** Prefixes passed through: the locale, npm/yarn settings (registry, cache) and Airlock's own. */
const PASSED_PREFIXES = ['LC_', 'npm_config_', 'NPM_CONFIG_', 'YARN_', 'AIRLOCK_'];

/**
 * The environment of a child process: the passed-through variables of `base` (by name and prefix,
 * see above; credential-looking names never by prefix, and by name only the ones listed), then
 * `declared` on top (later wins). `undefined` values are dropped.
 *
 * @param base Airlock's own environment (`process.env`).
 * @param declared what the command is meant to see: its `env:`, BASE_URL, AIRLOCK_*, DATABASE_URL.
 */
export function childEnvironment(
  base: Readonly<Record<string, string | undefined>>,
  ...declared: ReadonlyArray<Readonly<Record<string, string | undefined>> | undefined>
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(base)) {
    if (value === undefined) continue;
    const passed =
      PASSED.has(name) ||
      (PASSED_PREFIXES.some((prefix) => name.startsWith(prefix)) && !isCredentialName(name));
    if (passed) env[name] = value;
  }
  for (const extra of declared) {
    if (!extra) continue;
    for (const [name, value] of Object.entries(extra)) if (value !== undefined) env[name] = value;
  }
  return env;
}
