/**
 * A secret store: where an environment's secret values live when they are not (only) the
 * platform's own secrets. `airlock secret set` writes to it; a deployment reads the environment's
 * values from it and sets them on the platform before it starts the release (so the app sees them
 * as it sees platform secrets). Values never appear in what a store returns besides `read`.
 */
export interface SecretStore {
  /** `encrypted-file` or `infisical`. */
  kind: 'encrypted-file' | 'infisical';
  /** Where one environment's secrets live, for messages (a file, an Infisical environment and path). */
  where(environment: string): string;
  /** Sets (creates or replaces) values of one environment. */
  set(environment: string, values: Record<string, string>): Promise<void>;
  /** The values of one environment (for a deployment). */
  read(environment: string): Promise<Record<string, string>>;
  /** The names of one environment's secrets (needs no private key). */
  names(environment: string): Promise<string[]>;
}

/** Replaces `{environment}` in a configured template. */
export function forEnvironment(template: string, environment: string): string {
  return template.replaceAll('{environment}', environment);
}
