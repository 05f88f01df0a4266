// Writes, for every CDP perflog in fixtures/perflogs/, the list of entries (URL, method,
// status) and the page count that chrome-har produces from it, in chrome-har's order, to
// fixtures/perflogs/expected/<name>.json. Spool's event-to-HAR converter is tested against
// these lists; they are generated once and committed, so tests need neither Node nor npm.
//
// Usage: node scripts/chrome-har/expected.js [perflog dir] [output dir]
import { readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadChromeHar } from './load.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const perflogDir = process.argv[2] || join(repo, 'fixtures', 'perflogs');
const outDir = process.argv[3] || join(perflogDir, 'expected');

const { harFromMessages, version } = await loadChromeHar();
mkdirSync(outDir, { recursive: true });

const logs = readdirSync(perflogDir)
  .filter(name => name.endsWith('.json'))
  .sort();
for (const file of logs) {
  const messages = JSON.parse(readFileSync(join(perflogDir, file), 'utf8'));
  // Response bodies are never in a perflog, so asking for them would change nothing; the
  // option is spelled out because it is the comparison the converter is held to.
  const har = harFromMessages(messages, { includeTextFromResponseBody: false });
  const expected = {
    source: `chrome-har ${version}`,
    entries: har.log.entries.map(entry => ({
      url: entry.request.url,
      method: entry.request.method,
      status: entry.response.status
    })),
    pages: har.log.pages.length
  };
  writeFileSync(join(outDir, file), JSON.stringify(expected, null, 2) + '\n');
  console.log(`${basename(file, '.json')}: ${expected.entries.length} entries, ${expected.pages} pages`);
}
