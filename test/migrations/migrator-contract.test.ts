/**
 * The migrator contract (migrator-contract.ts) on every engine of the test suite.
 */
import { engines } from './engines.ts';
import { describeMigratorContract } from './migrator-contract.ts';

for (const engine of engines) describeMigratorContract(engine);
