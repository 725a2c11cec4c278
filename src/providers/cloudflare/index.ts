/** The cloudflare provider's module (loaded only when an environment uses it; see registry.ts). */
import type { ProviderFactory } from '../registry.ts';
import { CloudflareProvider } from './cloudflare-provider.ts';

export { CloudflareProvider } from './cloudflare-provider.ts';

export const createProvider: ProviderFactory = ({ config, home, env, local }) =>
  new CloudflareProvider({ config, home, env, local });
