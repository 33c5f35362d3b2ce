// First step of `npm test`: says which Node runs the suite, and stops with what to install if it is too old.
import { majorOf, REQUIRED_MAJOR, tooOldMessage } from './node-runtime.mjs';

if (majorOf(process.version) < REQUIRED_MAJOR) {
  process.stderr.write(`${tooOldMessage(process.version)}\n`);
  process.exit(1);
}
process.stdout.write(`[batchgate] node ${process.version} (${process.execPath})\n`);
