// Loads chrome-har from a throwaway npm install outside the repository, so that no
// node_modules ever lands in the checkout. The directory is $CHROME_HAR_DIR, by default
// ~/.cache/spool-chrome-har (see README.md for the one-line install).
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { homedir } from 'node:os';
import { pathToFileURL } from 'node:url';

export const chromeHarDir =
  process.env.CHROME_HAR_DIR || join(homedir(), '.cache', 'spool-chrome-har');

export async function loadChromeHar() {
  let entryPoint;
  try {
    // Resolving from a file inside the install directory makes Node search its
    // node_modules and honour chrome-har's `exports` map, as a normal import would.
    entryPoint = createRequire(join(chromeHarDir, 'package.json')).resolve('chrome-har');
  } catch {
    throw new Error(
      `chrome-har is not installed in ${chromeHarDir}; run: ` +
        `mkdir -p ${chromeHarDir} && npm install --prefix ${chromeHarDir} chrome-har@latest`
    );
  }
  // The package's `exports` hides package.json, so its version is read from the file itself.
  const { version } = JSON.parse(readFileSync(join(dirname(entryPoint), 'package.json'), 'utf8'));
  const { harFromMessages } = await import(pathToFileURL(entryPoint).href);
  return { harFromMessages, version };
}
