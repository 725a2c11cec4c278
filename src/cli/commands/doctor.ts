import { defineCommand } from '../command-definition.ts';

/** `airlock doctor`. */
export const doctorDefinition = defineCommand({
  name: 'doctor',
  description:
    'check the project: configuration, git, no committed plaintext .env file, no secret-looking string in tracked files (secretlint); exit 1 on a failure',
  arguments: [],
  handler: async (io) => (await import('../doctor.ts')).doctorCommand(io),
});
