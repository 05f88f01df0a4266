// Converts each given CDP perflog to HAR 1.2 with chrome-har: the whole process that
// scripts/bench-har-from-events.sh times against `spool har-from-events`. Every file is read,
// parsed, converted and serialized, so the work matches what the Spool command does.
//
// Usage: node scripts/chrome-har/convert.js [--out-dir DIR] <perflog.json>...
// Without --out-dir the HAR is written to /dev/null (for benchmarks); with it, each log's HAR
// goes to DIR/<name>.har (for committed fixtures such as fixtures/har/chrome-har/).
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { loadChromeHar } from './load.js';

const args = process.argv.slice(2);
let outDir;
if (args[0] === '--out-dir') {
  outDir = args[1];
  args.splice(0, 2);
}
if (args.length === 0 || !outDir && args.some(arg => arg.startsWith('--'))) {
  console.error('usage: node scripts/chrome-har/convert.js [--out-dir DIR] <perflog.json>...');
  process.exit(2);
}

const { harFromMessages } = await loadChromeHar();
if (outDir) {
  mkdirSync(outDir, { recursive: true });
}
for (const file of args) {
  const messages = JSON.parse(readFileSync(file, 'utf8'));
  const har = harFromMessages(messages, { includeTextFromResponseBody: false });
  // Indented like the HAR files that DevTools and most tools export, so the fixtures diff
  // readably; the benchmark pays the same serialization cost.
  const text = JSON.stringify(har, null, 2) + '\n';
  const target = outDir ? join(outDir, basename(file, '.json') + '.har') : '/dev/null';
  writeFileSync(target, text);
}
