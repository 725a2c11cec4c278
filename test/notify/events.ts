/** Event fixtures for the notification tests. */
import {
  createNotificationEvent,
  type NotificationEvent,
  type NotificationEventInput,
} from '../../src/notify/notification-event.ts';

export function event(overrides: Partial<NotificationEventInput> = {}): NotificationEvent {
  return createNotificationEvent({
    type: 'promotion.succeeded',
    at: '2025-06-01T12:00:00.000Z',
    project: 'notes',
    environment: 'production',
    release: { id: 'r3', commit: 'c0ffee5d'.padEnd(40, '0'), digest: 'ab'.repeat(32) },
    actor: 'alice@example.com',
    url: 'https://notes.example.com',
    details: { action: 'promote', runId: 12, from: 'r2' },
    ...overrides,
  });
}
