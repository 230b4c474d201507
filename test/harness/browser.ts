// Debian's chromium, headless, driven by playwright-core (no browser download): for tests and benchmarks
// of the web view. Each launch gets a fresh temporary profile from playwright.
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * A script for page.evaluate: records every change of an edge's state or source, with the time it was
 * seen, in window.__edgeHistory (the page replaces its sections on each update). A string, so that no
 * transpiler helper leaks into the page.
 */
export const RECORD_EDGES = `(() => {
  window.__edgeHistory = [];
  const last = new Map();
  const scan = () => {
    for (const el of document.querySelectorAll('[data-channel]')) {
      const key = el.getAttribute('data-channel');
      const seen = el.getAttribute('data-state') + ' ' + el.getAttribute('data-from');
      if (last.get(key) === seen) continue;
      last.set(key, seen);
      window.__edgeHistory.push({ t: Date.now(), key, state: el.getAttribute('data-state'), from: el.getAttribute('data-from') });
    }
  };
  scan();
  new MutationObserver(scan).observe(document.body, { subtree: true, childList: true, attributes: true });
})()`;

export interface EdgeSeen {
  t: number;
  key: string;
  state: string;
  from: string;
}
