/**
 * The `NNNN_name.sql` convention in one place: parse, format, the next name, and the looser
 * reading of other tools' names (wrangler accepts any name after the number).
 */
import { describe, expect, it } from 'vitest';
import {
  formatMigrationVersion,
  leadingMigrationNumber,
  MIGRATION_FILENAME,
  migrationFilename,
  migrationLabel,
  nextMigrationFilename,
  parseMigrationFilename,
} from '../../src/migrations/migration-name.ts';

describe('migration file names', () => {
  it('parses NNNN_name.sql and refuses anything else', () => {
    expect(parseMigrationFilename('0001_create_notes.sql')).toEqual({
      version: 1,
      name: 'create_notes',
    });
    expect(parseMigrationFilename('12345_big.sql')).toEqual({ version: 12345, name: 'big' });
    for (const bad of ['001_short.sql', '0001-dash.sql', '0001_Upper.sql', '0001_x.SQL', 'x.sql']) {
      expect(parseMigrationFilename(bad), bad).toBeNull();
      expect(MIGRATION_FILENAME.test(bad), bad).toBe(false);
    }
  });

  it('formats versions zero-padded to four digits, and file names from their parts', () => {
    expect(formatMigrationVersion(7)).toBe('0007');
    expect(formatMigrationVersion(12345)).toBe('12345');
    expect(migrationLabel(3, 'add_tags')).toBe('0003_add_tags');
    expect(migrationFilename(3, 'add_tags')).toBe('0003_add_tags.sql');
    const name = migrationFilename(42, 'round_trip');
    expect(parseMigrationFilename(name)).toEqual({ version: 42, name: 'round_trip' });
  });

  it('names the next migration after the highest version, in any order', () => {
    expect(nextMigrationFilename([], 'init')).toBe('0001_init.sql');
    expect(nextMigrationFilename([{ version: 2 }, { version: 9 }, { version: 4 }], 'next')).toBe(
      '0010_next.sql',
    );
  });

  it("reads the number of other tools' names too", () => {
    expect(leadingMigrationNumber('0003_Add-Tags.sql')).toBe(3);
    expect(leadingMigrationNumber('20240101120000_create_notes.sql')).toBe(20240101120000);
    expect(leadingMigrationNumber('create_notes.sql')).toBeNull();
  });
});
