// Validates DevTools Recorder recordings with @puppeteer/replay's own parser (the schema
// the Chrome DevTools Recorder reads and writes). Usage: node devtools_validate.js FILE...
// Prints each file's step count; exits 1 with the parser's message on the first invalid one.
'use strict';
const fs = require('fs');
const { parse } = require('@puppeteer/replay');
for (const file of process.argv.slice(2)) {
  try {
    const flow = parse(JSON.parse(fs.readFileSync(file, 'utf8')));
    console.log(`${file}: valid, ${flow.steps.length} steps`);
  } catch (error) {
    console.error(`${file}: invalid: ${error.message}`);
    process.exit(1);
  }
}
