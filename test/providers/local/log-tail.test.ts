// Which lines of an app's log a failed start or health check shows: repeated blocks collapsed,
// and the first line of the error the last lines belong to kept.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readLogTail } from '../../../src/providers/local/app-process.ts';
import { explainingTail } from '../../../src/providers/local/log-tail.ts';

/** What Node 24 prints for a `pg` error logged with console.error (22 lines). */
const PG_ERROR = [
  'error: relation "healthz" does not exist',
  '    at /app/node_modules/pg/lib/client.js:545:17',
  '    at process.processTicksAndRejections (node:internal/process/task_queues:105:5)',
  '    at async Server.<anonymous> (/app/server.js:12:5) {',
  '  length: 106,',
  "  severity: 'ERROR',",
  "  code: '42P01',",
  '  detail: undefined,',
  '  hint: undefined,',
  "  position: '15',",
  '  internalPosition: undefined,',
  '  internalQuery: undefined,',
  '  where: undefined,',
  '  schema: undefined,',
  '  table: undefined,',
  '  column: undefined,',
  '  dataType: undefined,',
  '  constraint: undefined,',
  "  file: 'parse_relation.c',",
  "  line: '1449',",
  "  routine: 'parserOpenTable'",
  '}',
];

describe('explainingTail', () => {
  it('leaves a short log, and a line written twice, as they are', () => {
    const lines = ['booting', 'listening on 4000', 'GET /health 500', 'GET /health 500'];
    expect(explainingTail(lines, 20)).toEqual(lines);
  });

  it('collapses copies of one block that differ only in their digits, keeping the last copy', () => {
    const probe = (i: number) => [
      `2026-01-01T00:00:${String(i).padStart(2, '0')}.000Z GET /health 500 in ${i + 3} ms`,
      ...PG_ERROR,
    ];
    const lines = [
      'booting',
      'listening on 4000',
      ...Array.from({ length: 40 }, (_, i) => probe(i)).flat(),
      'SIGTERM, closing',
    ];
    const tail = explainingTail(lines, 20);
    expect(tail).toEqual([
      '2026-01-01T00:00:39.000Z GET /health 500 in 42 ms',
      ...PG_ERROR,
      '… (the 23 lines above, written 40 times in a row; the numbers in them vary)',
      'SIGTERM, closing',
    ]);
  });

  it('says "at least" when the copies reach the start of a log read from its middle', () => {
    const lines = ['retrying', ...Array.from({ length: 12 }, () => 'connect ECONNREFUSED')];
    expect(explainingTail(lines, 20, true)).toEqual([
      'retrying',
      'connect ECONNREFUSED',
      '… (the line above, written 12 times in a row)',
    ]);
    expect(explainingTail(lines.slice(1), 20, true)).toEqual([
      'connect ECONNREFUSED',
      '… (the line above, written at least 12 times in a row)',
    ]);
  });

  it('shows the whole error when the last lines start a few lines into it', () => {
    const tail = explainingTail(['booting', ...PG_ERROR], 20);
    expect(tail).toEqual(PG_ERROR);
  });

  it("shows an error's first line and how many lines were left out when it starts far above", () => {
    const props = Array.from(
      { length: 40 },
      (_, i) =>
        `  field${'abcdefghijklmnopqrstuvwxyz'[i % 26]}${'abcdefghijklmnopqrstuvwxyz'[Math.floor(i / 26)]}: undefined,`,
    );
    const lines = [
      'booting',
      '{ error: relation "healthz" does not exist',
      ...props.slice(0, -1),
      `${props.at(-1)} }`,
    ];
    const tail = explainingTail(lines, 20);
    expect(tail).toHaveLength(22);
    expect(tail.slice(0, 2)).toEqual([
      '{ error: relation "healthz" does not exist',
      '… (20 lines left out)',
    ]);
    expect(tail.slice(2)).toEqual(lines.slice(-20));
  });

  it('adds nothing above lines that continue an entry which is not an error', () => {
    const names = 'abcdefghijklmnopqrstuvwxyz'.split('').map((c) => `  ${c}${c}: 'value'`);
    const lines = ['booting', 'loaded config {', ...names, '}'];
    expect(explainingTail(lines, 20)).toEqual(lines.slice(-20));
  });

  it('says when the lines it collapsed differ in their numbers', () => {
    const lines = Array.from({ length: 30 }, (_, i) => `retry ${i + 1}: connect ECONNREFUSED`);
    expect(explainingTail(lines, 20)).toEqual([
      'retry 30: connect ECONNREFUSED',
      '… (the line above, written 30 times in a row; the numbers in it vary)',
    ]);
  });
});

describe('readLogTail', () => {
  it('leaves out the line cut where it starts reading a long log, and names the error', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'airlock-log-tail-'));
    try {
      const file = path.join(dir, 'web-r1.log');
      // The 64 KiB read starts inside the first line: its end must not be shown.
      const cut = `token=${'s'.repeat(70 * 1024)}`;
      const probes = Array.from({ length: 30 }, () => PG_ERROR.join('\n')).join('\n');
      await fs.writeFile(file, `${cut}\n${probes}\nSIGTERM, closing\n`);
      const tail = (await readLogTail(file, 0, 20)).split('\n');
      expect(tail.some((l) => l.includes('sss'))).toBe(false);
      expect(tail).toEqual([
        ...PG_ERROR,
        '… (the 22 lines above, written at least 30 times in a row)',
        'SIGTERM, closing',
      ]);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
