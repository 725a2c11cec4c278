/**
 * Infisical as a secret store, over its documented REST API (`/api/v3/secrets/raw`, universal
 * auth at `/api/v1/auth/universal-auth/login`): each Airlock environment's secrets at an Infisical
 * environment slug and secret path (`secrets.store.infisical`). The token is INFISICAL_TOKEN, or a
 * machine identity's INFISICAL_CLIENT_ID + INFISICAL_CLIENT_SECRET exchanged for one. Errors name
 * the HTTP status and Infisical's message, never a value or the token.
 */
import { ProviderError, UserError } from '../../errors.ts';
import { forEnvironment, type SecretStore } from './secret-store.ts';

export interface InfisicalSettings {
  url: string;
  projectId: string;
  /** Environment slug template (`{environment}`). */
  environment: string;
  /** Secret path template (`{environment}`). */
  path: string;
}

interface RawSecret {
  secretKey: string;
  secretValue: string;
}

export class InfisicalStore implements SecretStore {
  readonly kind = 'infisical' as const;
  readonly #settings: InfisicalSettings;
  readonly #env: Readonly<Record<string, string | undefined>>;
  #token: Promise<string> | null = null;

  constructor(settings: InfisicalSettings, env: Readonly<Record<string, string | undefined>>) {
    this.#settings = settings;
    this.#env = env;
  }

  #scope(environment: string): { environment: string; secretPath: string } {
    return {
      environment: forEnvironment(this.#settings.environment, environment),
      secretPath: forEnvironment(this.#settings.path, environment),
    };
  }

  where(environment: string): string {
    const s = this.#scope(environment);
    return `Infisical ${s.environment}:${s.secretPath}`;
  }

  async read(environment: string): Promise<Record<string, string>> {
    const secrets = await this.#list(environment);
    return Object.fromEntries(secrets.map((s) => [s.secretKey, s.secretValue]));
  }

  async names(environment: string): Promise<string[]> {
    return (await this.#list(environment)).map((s) => s.secretKey).sort();
  }

  async set(environment: string, values: Record<string, string>): Promise<void> {
    const existing = new Set(await this.names(environment));
    for (const [name, value] of Object.entries(values)) {
      await this.#call(
        existing.has(name) ? 'PATCH' : 'POST',
        `/api/v3/secrets/raw/${encodeURIComponent(name)}`,
        {
          workspaceId: this.#settings.projectId,
          ...this.#scope(environment),
          secretValue: value,
          type: 'shared',
        },
      );
    }
  }

  async #list(environment: string): Promise<RawSecret[]> {
    const s = this.#scope(environment);
    const query = new URLSearchParams({
      workspaceId: this.#settings.projectId,
      environment: s.environment,
      secretPath: s.secretPath,
    });
    const body = (await this.#call('GET', `/api/v3/secrets/raw?${query}`)) as {
      secrets?: RawSecret[];
    };
    if (!Array.isArray(body.secrets))
      throw new ProviderError(
        'INFISICAL_ERROR',
        `Infisical answered without a secrets list for ${this.where(environment)}.`,
      );
    return body.secrets.filter(
      (x) => typeof x.secretKey === 'string' && typeof x.secretValue === 'string',
    );
  }

  #accessToken(): Promise<string> {
    this.#token ??= (async () => {
      const token = this.#env.INFISICAL_TOKEN;
      if (token) return token;
      const clientId = this.#env.INFISICAL_CLIENT_ID;
      const clientSecret = this.#env.INFISICAL_CLIENT_SECRET;
      if (!clientId || !clientSecret)
        throw new UserError(
          'INFISICAL_AUTH_MISSING',
          'no Infisical credentials: INFISICAL_TOKEN, or INFISICAL_CLIENT_ID and INFISICAL_CLIENT_SECRET, must be set.',
          {
            hint: "Give this environment's job a machine identity (universal auth) allowed to read its path.",
          },
        );
      const body = (await this.#request('POST', '/api/v1/auth/universal-auth/login', null, {
        clientId,
        clientSecret,
      })) as { accessToken?: string };
      if (!body.accessToken)
        throw new ProviderError(
          'INFISICAL_ERROR',
          'Infisical universal auth answered without an access token.',
        );
      return body.accessToken;
    })();
    return this.#token;
  }

  async #call(method: string, path: string, body?: unknown): Promise<unknown> {
    return this.#request(method, path, await this.#accessToken(), body);
  }

  async #request(
    method: string,
    path: string,
    token: string | null,
    body?: unknown,
  ): Promise<unknown> {
    const url = `${this.#settings.url.replace(/\/+$/, '')}${path}`;
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (error) {
      throw new ProviderError(
        'INFISICAL_UNREACHABLE',
        `Infisical at ${this.#settings.url} could not be reached (${error instanceof Error ? error.message : String(error)}).`,
      );
    }
    const text = await response.text();
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      parsed = null;
    }
    if (!response.ok) {
      const message = (parsed as { message?: unknown } | null)?.message;
      throw new ProviderError(
        'INFISICAL_ERROR',
        `Infisical refused ${method} ${path.split('?')[0]}: HTTP ${response.status}${typeof message === 'string' ? ` (${message.slice(0, 200)})` : ''}.`,
      );
    }
    if (parsed === null)
      throw new ProviderError(
        'INFISICAL_ERROR',
        `Infisical answered ${method} ${path.split('?')[0]} with something that is not JSON.`,
      );
    return parsed;
  }
}
