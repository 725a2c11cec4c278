/** Options several commands share, declared once. */
import type { OptionDefinition } from '../command-definition.ts';

/** `--wait`: every command that takes an environment's lock. */
export const WAIT_OPTION: OptionDefinition = {
  flags: '--wait <duration>',
  description: 'when the environment is locked, wait in its queue this long (e.g. 10m)',
};
