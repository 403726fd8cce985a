// The dashboard's bundle budget: the JavaScript a first visit loads (the entry module index.html
// names and the chunks it preloads), gzipped, must stay under 200 KB. Prints the measured size;
// exits 1 over the budget. Usage: node dashboard/scripts/budget.mjs [DIST] [BUDGET_KB]
import { readFileSync } from "node:fs";
import { join, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const here = dirname(fileURLToPath(import.meta.url));
const dist = resolve(process.argv[2] ?? join(here, "..", "dist"));
const budgetKb = Number(process.argv[3] ?? 200);

const html = readFileSync(join(dist, "index.html"), "utf8");
const initial = new Set();
for (const tag of html.match(/<(script|link)\b[^>]*>/g) ?? []) {
  const module = /<script\b/.test(tag) && /type="module"/.test(tag);
  const preload = /<link\b/.test(tag) && /rel="modulepreload"/.test(tag);
  const url = /(?:src|href)="([^"]+)"/.exec(tag)?.[1];
  if ((module || preload) && url && !/^[a-z]+:/i.test(url)) initial.add(url.replace(/^\.?\//, ""));
}
if (!initial.size) {
  console.error(`dashboard budget: no JavaScript found in ${join(dist, "index.html")}`);
  process.exit(1);
}
let bytes = 0;
for (const file of initial) bytes += gzipSync(readFileSync(join(dist, file)), { level: 9 }).length;
const kb = (bytes / 1024).toFixed(1);
const verdict = bytes <= budgetKb * 1024 ? "within" : "OVER";
console.log(`dashboard initial JavaScript: ${kb} KB gzipped in ${initial.size} file(s), ${verdict} the ${budgetKb} KB budget`);
process.exit(bytes <= budgetKb * 1024 ? 0 : 1);
