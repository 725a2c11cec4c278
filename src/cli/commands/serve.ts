import { defineCommand } from '../command-definition.ts';

/** `airlock serve`. */
export const serveDefinition = defineCommand({
  name: 'serve',
  description: 'the dashboard and HTTP API: the pipeline, live runs, approvals',
  options: [
    { flags: '--port <port>', description: 'port to listen on (0: any free one)', default: '4300' },
    { flags: '--host <host>', description: 'address to listen on', default: '127.0.0.1' },
    {
      flags: '--secure-cookies',
      description: 'mark session cookies Secure (when a TLS proxy is in front)',
    },
  ],
  handler: async (io, opts: { port: string; host: string; secureCookies?: boolean }) =>
    (await import('../serve.ts')).serveCommand(io, opts),
  onInterrupt: 'the server stops taking requests; a deployment it started finishes first.',
});
