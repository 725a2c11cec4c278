#!/usr/bin/env node
// Airlock runs its TypeScript sources directly (Node >= 24 strips types); the compile cache
// makes later starts fast.
import module from 'node:module';

module.enableCompileCache?.();
const { main } = await import('../src/cli/main.ts');
await main(process.argv);
