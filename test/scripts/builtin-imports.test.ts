/**
 * The bundle step that loads Node's built-ins with `process.getBuiltinModule()`: every form of
 * static import rolldown writes is rewritten to bindings with the same names and values, other
 * imports are left alone, and the built bundle keeps no static import of a built-in.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { builtinImportsToGetBuiltinModule } from '../../scripts/builtin-imports.ts';

const ROOT = path.resolve(import.meta.dirname, '..', '..');

describe('builtinImportsToGetBuiltinModule', () => {
  it('rewrites each import form and leaves other modules alone', () => {
    const code = [
      'import { t as Reporter } from "./chunks/reporter-x.mjs";',
      'import fs from "node:fs";',
      'import { EventEmitter } from "node:events";',
      'import { createHash, hash as sha } from "node:crypto";',
      'import fsp, { readFile as read, stat } from "node:fs/promises";',
      'import * as os from "node:os";',
      'import process$1 from "node:process";',
      'import "node:path";',
      'const later = "import fs from \\"node:fs\\";";',
    ].join('\n');
    const out = builtinImportsToGetBuiltinModule(code).split('\n');
    expect(out).toEqual([
      'import { t as Reporter } from "./chunks/reporter-x.mjs";',
      'const fs = process.getBuiltinModule("node:fs");',
      'const { EventEmitter } = process.getBuiltinModule("node:events");',
      'const { createHash, hash: sha } = process.getBuiltinModule("node:crypto");',
      'const fsp = process.getBuiltinModule("node:fs/promises"); const { readFile: read, stat } = fsp;',
      'const os = process.getBuiltinModule("node:os");',
      'const process$1 = process.getBuiltinModule("node:process");',
      'process.getBuiltinModule("node:path");',
      'const later = "import fs from \\"node:fs\\";";',
    ]);
    // The rewritten lines bind what the imports bound.
    const run = new Function(
      `${out.slice(1, 8).join('\n')}; return { fs, EventEmitter, sha, read, stat, os, process$1 };`,
    );
    const bound = run();
    expect(bound.fs.readFileSync).toBeTypeOf('function');
    expect(bound.EventEmitter.name).toBe('EventEmitter');
    expect(bound.sha('sha256', 'x')).toHaveLength(64);
    expect(bound.read).toBeTypeOf('function');
    expect(bound.os.platform()).toBe(process.platform);
    expect(bound.process$1).toBe(process);
  });

  it('leaves no static import of a built-in in the built bundle', () => {
    const dist = path.join(ROOT, 'dist');
    const files = [
      ...readdirSync(dist).filter((f) => f.endsWith('.mjs')),
      ...readdirSync(path.join(dist, 'chunks')).map((f) => path.join('chunks', f)),
    ].filter((f) => f.endsWith('.mjs'));
    expect(files.length).toBeGreaterThan(10);
    const left = files.filter((f) =>
      /^import\b[^\n]*["']node:/m.test(readFileSync(path.join(dist, f), 'utf8')),
    );
    expect(left).toEqual([]);
  });
});
