import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CheckContext } from '../../src/checks/check.ts';

export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export interface TestServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

/** A real HTTP server on 127.0.0.1 with a random port. */
export async function startServer(handler: Handler, port = 0): Promise<TestServer> {
  const server = createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${actual}`, port: actual, close: () => closeServer(server) };
}

/** A port that was free a moment ago and on which nothing listens now. */
export async function closedPort(): Promise<number> {
  const s = await startServer(() => undefined);
  await s.close();
  return s.port;
}

export function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

export function context(baseUrl: string, overrides: Partial<CheckContext> = {}): CheckContext {
  return {
    baseUrl,
    environment: 'staging',
    service: 'notes',
    release: { id: 'r3', commit: 'c0ffee', digest: 'd'.repeat(64) },
    serviceRoot: process.cwd(),
    ...overrides,
  };
}
