/**
 * What the previous environment serves right now, asked of its platform at promotion time, not
 * read from Airlock's records: "if staging is unreachable, promotion blocks". A release recorded
 * as serving on staging may have crashed, been stopped, or been replaced by hand since.
 */
import type { ResolvedEnvironment } from '../config/resolve.ts';
import { AirlockError } from '../errors.ts';
import type { LiveServiceFact } from '../gates/gate.ts';
import { type AirlockContext, serviceTarget } from './context.ts';

/** How long one service's answer may take (ms) before it counts as unreachable. */
export const LIVE_PROBE_TIMEOUT_MS = 10_000;

/**
 * Codes that mean "this machine may not ask" (a CI job for production holds no staging
 * credentials), not "staging is down": the gate then relies on the records and says so.
 */
const NOT_ASKABLE = new Set([
  'PROVIDER_AUTH',
  'PROVIDER_CONFIG_INVALID',
  'CONFIG_INVALID',
  'CONFIG_VARIABLE_UNSET',
]);

/** One fact per service of `previous`: the release its platform reports, and its health. */
export async function liveServices(
  ctx: AirlockContext,
  previous: ResolvedEnvironment,
): Promise<LiveServiceFact[]> {
  const provider = ctx.providerFor(previous);
  return Promise.all(
    ctx.config.services.map(async (service): Promise<LiveServiceFact> => {
      const target = serviceTarget(ctx.config, previous, service);
      // A `command` environment without a describe command reports only what this machine
      // recorded when it deployed: nothing live to ask.
      if (target.settings.provider === 'command' && !target.settings.describe) {
        return { service, url: null, release: null, healthy: false, error: null, askable: false };
      }
      let timer: NodeJS.Timeout | undefined;
      try {
        const state = await Promise.race([
          provider.describe(target),
          new Promise<never>((_, reject) => {
            timer = setTimeout(
              () => reject(new Error(`no answer within ${LIVE_PROBE_TIMEOUT_MS / 1000} s`)),
              LIVE_PROBE_TIMEOUT_MS,
            );
          }),
        ]);
        return {
          service,
          url: state.url,
          release: state.release,
          healthy: state.healthy,
          error: null,
          askable: true,
        };
      } catch (error) {
        const code = error instanceof AirlockError ? error.code : null;
        return {
          service,
          url: null,
          release: null,
          healthy: false,
          error: error instanceof Error ? error.message : String(error),
          askable: !(code && NOT_ASKABLE.has(code)),
        };
      } finally {
        clearTimeout(timer);
      }
    }),
  );
}
