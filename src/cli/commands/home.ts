import { defineCommand, defineGroup } from '../command-definition.ts';

/** `airlock home show|path|move`. */
export const homeDefinition = defineGroup({
  name: 'home',
  description:
    "this project's Airlock home: state, artifacts, releases and logs, outside the project",
  commands: [
    defineCommand({
      name: 'show',
      description: 'where the home is, why there, and where the state is',
      handler: async (io) => (await import('../home.ts')).homeShowCommand(io),
    }),
    defineCommand({
      name: 'path',
      description: "print the home's path alone (for scripts)",
      handler: async (io) => (await import('../home.ts')).homePathCommand(io),
    }),
    defineCommand({
      name: 'move',
      description: "move the project's .airlock/ folder (earlier versions) into the home",
      handler: async (io) => (await import('../home.ts')).homeMoveCommand(io),
    }),
  ],
});
