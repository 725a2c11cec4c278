/** drizzle-kit's own round trip on Postgres (drizzle-kit-round-trip.ts says what it checks). */
import { it } from 'vitest';
import { createTestDatabase, describeIfPostgres } from '../helpers/postgres.ts';
import { databases, roundTrip, useDrizzleProject, writeConfig } from './drizzle-kit-round-trip.ts';

useDrizzleProject();

describeIfPostgres('drizzle-kit on Postgres', () => {
  it('generated journal layout, applied by drizzle-kit and by Airlock alike; adopted; drizzle-kit migrate afterwards is a no-op', async () => {
    const [a, b] = [
      await createTestDatabase('airlock_dzk'),
      await createTestDatabase('airlock_dzk'),
    ];
    databases.push(a, b);
    await writeConfig('postgresql', a.url);
    const users = `export const status = pgEnum('status', ['active', 'banned']);
export const users = pgTable('users', {
  id: serial('id').primaryKey(),
  email: text('email').notNull().unique(),
  status: status('status').notNull().default('active'),
  createdAt: timestamp('created_at', { withTimezone: true }).defaultNow(),
}, (t) => [index('users_status').on(t.status)]);\n`;
    const v1 = `import { index, integer, pgEnum, pgTable, serial, text, timestamp } from 'drizzle-orm/pg-core';\n${users}`;
    const v2 = `${v1}export const posts = pgTable('posts', {
  id: serial('id').primaryKey(),
  userId: integer('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  title: text('title').notNull(),
});\n`;
    await roundTrip({ engine: 'postgres', url: a.url }, { engine: 'postgres', url: b.url }, [
      v1,
      v2,
    ]);
  }, 120_000);
});
