// Checks AsyncAPI documents with the official parser (@asyncapi/parser 3.x),
// the same validation AsyncAPI Studio and the generator templates run: the
// AsyncAPI 3.0 JSON Schema, reference resolution, and the spectral rules the
// parser ships (e.g. an operation's messages must belong to its channel).
//
// Usage: node check-asyncapi.mjs FILE...
// Prints every diagnostic as `FILE: severity code at path: message` and exits
// 1 when any file has an error or a warning (goldens must be clean, so a new
// warning is a regression to look at, not noise), 2 on bad usage. Info and
// hint diagnostics are printed but do not fail.
import { readFile } from 'node:fs/promises';
import parserPackage from '@asyncapi/parser';

const { Parser } = parserPackage;
const SEVERITY = ['error', 'warning', 'info', 'hint'];
const FAILING = new Set(['error', 'warning']);

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node check-asyncapi.mjs FILE...');
  process.exit(2);
}

const parser = new Parser();
let failed = 0;
for (const file of files) {
  const text = await readFile(file, 'utf8');
  const { document, diagnostics } = await parser.parse(text, { source: file });
  let fails = 0;
  for (const d of diagnostics) {
    const severity = SEVERITY[d.severity] ?? String(d.severity);
    if (FAILING.has(severity)) fails += 1;
    const at = d.path && d.path.length > 0 ? ` at /${d.path.join('/')}` : '';
    console.log(`${file}: ${severity} ${d.code}${at}: ${d.message}`);
  }
  if (document === undefined && fails === 0) {
    console.log(`${file}: error: the parser returned no document`);
    fails += 1;
  }
  if (fails > 0) {
    failed += 1;
  } else {
    const v = document.info();
    console.log(
      `${file}: ok (${v.title()} ${v.version()}: ${document.channels().length} channels, ` +
        `${document.operations().length} operations, ${document.components().messages().length} messages)`,
    );
  }
}
console.log(`${files.length - failed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
