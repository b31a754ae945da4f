// Opens generated documentation pages in Chromium and fails on anything a
// reader would trip over: a console error or warning, a page error, a request
// for anything but the page itself (the page must be self-contained: no CDN,
// font, image or script from elsewhere), a missing section, a duplicate id or
// a link to an anchor that does not exist.
//
// Run by `cargo test -p wsauth-generated --test html` over generated/*/index.html.
// Screenshots (full page, one PNG per page, light and dark), to look at the
// design; they go under target/ and are never committed:
//
//   node js/render-html.mjs --screenshot target/screenshots generated/*/index.html
//
// Chromium is Debian's (/usr/bin/chromium, or $CHROMIUM), driven by
// playwright-core; the pages are served from 127.0.0.1 on a free port.

import { createServer } from 'node:http';
import { readFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { chromium } from 'playwright-core';

/** The sections every page has, by id, with their heading text. */
const SECTIONS = [
  ['auth', 'Authentication'],
  ['endpoints', 'Endpoints'],
  ['messages', 'Messages'],
  ['close-codes', 'Close codes'],
  ['roles', 'Roles and permissions'],
];

function usage() {
  console.error('usage: node render-html.mjs [--screenshot DIR] PAGE.html...');
  process.exit(2);
}

const args = process.argv.slice(2);
let screenshots = null;
const files = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--screenshot') {
    screenshots = args[++i];
    if (!screenshots) usage();
  } else {
    files.push(path.resolve(args[i]));
  }
}
if (files.length === 0) usage();

// One route per page: /<n>/index.html. Anything else is a 404 and a failure.
const routes = new Map(files.map((file, n) => [`/${n}/index.html`, file]));
const stray = [];
const server = createServer(async (req, res) => {
  const file = routes.get(new URL(req.url, 'http://localhost').pathname);
  if (!file) {
    stray.push(`server got ${req.method} ${req.url}`);
    res.writeHead(404).end();
    return;
  }
  const body = await readFile(file);
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(body);
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const origin = `http://127.0.0.1:${server.address().port}`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});

const failures = [];
try {
  for (const [route, file] of routes) {
    const name = path.basename(path.dirname(file));
    const url = origin + route;
    const problems = [];
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    const page = await context.newPage();
    page.on('console', (msg) => {
      if (msg.type() === 'error' || msg.type() === 'warning') {
        problems.push(`console ${msg.type()}: ${msg.text()}`);
      }
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('request', (request) => {
      if (request.url() !== url) problems.push(`request for ${request.url()}`);
    });
    const response = await page.goto(url, { waitUntil: 'load' });
    if (!response || response.status() !== 200) {
      problems.push(`status ${response && response.status()}`);
    }
    const report = await page.evaluate((sections) => {
      const out = [];
      if (!document.querySelector('h1')?.textContent.trim()) out.push('no h1');
      if (!document.title.trim()) out.push('no title');
      for (const [id, heading] of sections) {
        const h2 = document.querySelector(`section#${id} > h2`);
        if (!h2 || !h2.textContent.includes(heading)) out.push(`no "${heading}" section (#${id})`);
      }
      if (document.querySelectorAll('#endpoints article.card').length === 0) out.push('no endpoint');
      if (document.querySelectorAll('table.close tbody tr').length === 0) out.push('no close code');
      const ids = new Map();
      for (const el of document.querySelectorAll('[id]')) ids.set(el.id, (ids.get(el.id) || 0) + 1);
      for (const [id, count] of ids) if (count > 1) out.push(`id "${id}" used ${count} times`);
      for (const a of document.querySelectorAll('a[href]')) {
        const href = a.getAttribute('href');
        if (!href.startsWith('#')) out.push(`link leaves the page: ${href}`);
        else if (!ids.has(decodeURIComponent(href.slice(1)))) out.push(`broken link ${href}`);
      }
      // The one link allowed: an empty data: icon, so no favicon is asked for.
      const allowed = (el) => el.matches('link[rel="icon"][href="data:,"]');
      for (const el of document.querySelectorAll('[src], link, script, iframe, object, embed')) {
        if (allowed(el)) continue;
        out.push(`external resource element <${el.tagName.toLowerCase()}>`);
      }
      return { problems: out, sections: document.querySelectorAll('main section').length };
    }, SECTIONS);
    problems.push(...report.problems);
    if (screenshots) {
      await mkdir(screenshots, { recursive: true });
      await page.evaluate(() => document.querySelectorAll('details').forEach((d) => (d.open = true)));
      for (const scheme of ['light', 'dark']) {
        await page.emulateMedia({ colorScheme: scheme });
        const out = path.join(screenshots, `${name}-${scheme}.png`);
        await page.screenshot({ path: out, fullPage: true });
        console.log(`screenshot: ${out}`);
      }
    }
    await context.close();
    if (problems.length) failures.push(`${file}:\n  ${problems.join('\n  ')}`);
    else console.log(`ok: ${file} (${report.sections} sections)`);
  }
} finally {
  await browser.close();
  server.close();
}

if (stray.length) failures.push(stray.join('\n'));
if (failures.length) {
  console.error(failures.join('\n'));
  process.exit(1);
}
