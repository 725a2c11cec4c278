/** drizzle-kit's own round trip on SQLite (drizzle-kit-round-trip.ts says what it checks). */
import path from 'node:path';
import { it } from 'vitest';
import { projectDir, roundTrip, useDrizzleProject, writeConfig } from './drizzle-kit-round-trip.ts';

useDrizzleProject();

it('drizzle-kit on SQLite: generated journal layout, applied by drizzle-kit and by Airlock alike; adopted; drizzle-kit migrate afterwards is a no-op', async () => {
  await writeConfig('sqlite', 'file:./a.sqlite');
  const users = `export const users = sqliteTable('users', {
  id: integer('id').primaryKey(),
  email: text('email').notNull().unique(),
  name: text('name'),
}, (t) => [index('users_name').on(t.name)]);\n`;
  const v1 = `import { index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';\n${users}`;
  const v2 = `${v1}export const posts = sqliteTable('posts', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  userId: integer('user_id').notNull().references(() => users.id),
  title: text('title').notNull(),
});\n`;
  await roundTrip(
    { engine: 'sqlite', url: path.join(projectDir(), 'a.sqlite') },
    { engine: 'sqlite', url: path.join(projectDir(), 'b.sqlite') },
    [v1, v2],
  );
}, 120_000);
