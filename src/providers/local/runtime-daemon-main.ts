/**
 * The default entry of the local runtime daemon: `node runtime-daemon-main.ts --home <Airlock home>`
 * (see `runDaemon`). An entry file of its own, so importing the daemon never starts one.
 */
import { runDaemon } from './runtime-daemon.ts';

await runDaemon();
