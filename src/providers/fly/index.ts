/** The fly provider (issue 6). Until it lands, an environment using it says so at once. */
import { ProviderError } from '../../errors.ts';
import type { ProviderFactory } from '../registry.ts';

export const createProvider: ProviderFactory = () => {
  throw new ProviderError(
    'PROVIDER_UNAVAILABLE',
    'the fly provider is not available in this build.',
  );
};
