// Playwright's routeFromHAR on the same HAR and page as Spool's offline replay, for the
// replay bench (benches/benches/replay.rs). Usage:
//   node playwright_route_from_har.js HAR URL ITERATIONS [networkidle|done]
// Launches Debian's Chromium (SPOOL_CHROME or /usr/bin/chromium) with Spool's flags, then per
// iteration (timed from the fresh context on): a context with every request answered from
// the HAR (unmatched ones aborted), goto URL until the network has been idle for 500 ms (`networkidle`, the rule
// Spool's replay settles by by default) or until the page says it is done (`done`: loaded
// and `document.title === 'done'`, checked every animation frame). Prints {"ms": [...]} with
// one time per iteration, after one untimed warm-up load.
'use strict';
const { chromium } = require('playwright-core');

(async () => {
  const [har, url, count, until] = process.argv.slice(2);
  const iterations = Number(count || 1);
  const browser = await chromium.launch({
    executablePath: process.env.SPOOL_CHROME || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
  const ms = [];
  try {
    for (let i = 0; i <= iterations; i++) {
      // Timed from a fresh context, as each Spool replay takes one: isolation is part of
      // the cost of a replay.
      const started = performance.now();
      const context = await browser.newContext();
      await context.routeFromHAR(har, { notFound: 'abort' });
      const page = await context.newPage();
      if (until === 'done') {
        await page.goto(url, { waitUntil: 'load' });
        await page.waitForFunction(() => document.title === 'done', null, { polling: 'raf' });
      } else {
        await page.goto(url, { waitUntil: 'networkidle' });
      }
      if (i > 0) ms.push(performance.now() - started);
      await context.close();
    }
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify({ ms }));
})().catch((error) => {
  console.error(error.message);
  process.exit(1);
});
