/**
 * The command definitions: declared as data, registered by main.ts, and light enough that
 * starting the CLI loads no command's work (each handler imports its module when it runs).
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { CommandDefinition } from '../../src/cli/command-definition.ts';
import { buildProgram, COMMANDS } from '../../src/cli/main.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The project files (and packages) a fresh process loads to import `src/cli/main.ts`. */
function modulesLoadedByMain(): string[] {
  // Node's synchronous module hooks see every module resolved, static or not.
  const script = [
    "import { registerHooks } from 'node:module';",
    'const seen = new Set();',
    'registerHooks({ resolve(s, c, next) { const r = next(s, c); seen.add(r.url); return r; } });',
    `await import(${JSON.stringify(new URL('src/cli/main.ts', `file://${ROOT}`).href)});`,
    'console.log(JSON.stringify([...seen]));',
  ].join('\n');
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
  });
  return (JSON.parse(out) as string[])
    .filter((url) => url.startsWith('file:'))
    .map((url) => fileURLToPath(url).slice(ROOT.length));
}

describe('command definitions', () => {
  it('starting the CLI loads the definitions, not the commands’ work', () => {
    const loaded = modulesLoadedByMain();
    expect(loaded).toContain('src/cli/commands/deploy.ts');
    const heavy = loaded.filter(
      (file) =>
        !/^src\/cli\/(main|run-command|reporter|command-definition)\.ts$/.test(file) &&
        !file.startsWith('src/cli/commands/') &&
        file !== 'src/errors.ts' &&
        // Leaves with no work of their own: the digest labels the reporter prints, the mask
        // it writes through, and where the package's files are (for --version).
        file !== 'src/releases/digest-label.ts' &&
        file !== 'src/secrets/known-secrets.ts' &&
        file !== 'src/secrets/redact.ts' &&
        file !== 'src/package-paths.ts' &&
        !file.startsWith('node_modules/commander/'),
    );
    expect(heavy).toEqual([]);
  });

  it('every command has a unique name, a description and options shown in its help', () => {
    const program = buildProgram();
    const check = (definitions: readonly CommandDefinition[], path: string[]) => {
      const names = definitions.map((d) => d.name);
      expect(new Set(names).size, `${path.join(' ')}: ${names.join(', ')}`).toBe(names.length);
      for (const definition of definitions) {
        expect(definition.description, definition.name).toMatch(/^[a-z]/);
        const command = [...path, definition.name].reduce(
          (parent, name) => parent.commands.find((c) => c.name() === name) ?? parent,
          program,
        );
        expect(command.name()).toBe(definition.name);
        const help = command.helpInformation();
        for (const option of definition.options ?? []) expect(help).toContain(option.flags);
        for (const argument of definition.arguments ?? []) expect(help).toContain(argument);
      }
    };
    const groups = COMMANDS.filter((d) => 'commands' in d);
    check(
      COMMANDS.filter((d): d is CommandDefinition => !('commands' in d)),
      [],
    );
    for (const group of groups) {
      expect(group.commands.length).toBeGreaterThan(0);
      check(group.commands, [group.name]);
    }
    expect(program.commands.map((c) => c.name())).toEqual(COMMANDS.map((d) => d.name));
  });
});
