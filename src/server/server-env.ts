/** What a request carries through the app's middleware (Hono `Env`). */
import type { AirlockContext } from '../pipeline/context.ts';

export type Role = 'viewer' | 'approver' | 'deployer';

/** The signed-in person, from their session cookie or bearer token. */
export interface Principal {
  principal: string;
  role: Role;
  tokenId: string;
  expiresAt: string;
  /** The session's CSRF token (forms carry it); null for a bearer token. */
  csrf: string | null;
}

export interface ServerEnv {
  Variables: {
    /** The server's context (its store, config, clock); `actor` is the server's operator. */
    ctx: AirlockContext;
    /** The signed-in person, or undefined. */
    user: Principal | undefined;
    /** The client's address (the socket's peer). */
    address: string;
    /** Promotions and rollbacks running now (shutdown waits for them). */
    operations: Set<Promise<unknown>>;
  };
}
