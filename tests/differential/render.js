// Reference renderer for bibport's differential test: citeproc-js on CSL-JSON items.
// usage: node render.js STYLE.csl LOCALE_DIR ITEMS.json FORMAT(text|html) [LANG]
// prints {"entries": [...], "ids": [...]} as JSON on stdout; errors go to stderr, exit 1.
"use strict";
const fs = require("fs");
const path = require("path");
const CSL = require("citeproc");

function main(argv) {
  const [stylePath, localeDir, itemsPath, format, lang] = argv;
  const style = fs.readFileSync(stylePath, "utf8");
  const items = JSON.parse(fs.readFileSync(itemsPath, "utf8"));
  const byId = new Map(items.map((item) => [String(item.id), item]));
  const sys = {
    retrieveItem: (id) => byId.get(String(id)),
    retrieveLocale: (tag) => {
      const file = path.join(localeDir, `locales-${tag}.xml`);
      return fs.existsSync(file) ? fs.readFileSync(file, "utf8") : false;
    },
  };
  const engine = new CSL.Engine(sys, style, lang || undefined, Boolean(lang));
  engine.setOutputFormat(format);
  engine.updateItems(items.map((item) => String(item.id)));
  const result = engine.makeBibliography();
  if (!result) {
    process.stdout.write(JSON.stringify({ entries: [], ids: [] }));
    return;
  }
  const [params, entries] = result;
  process.stdout.write(JSON.stringify({ entries, ids: params.entry_ids.map((ids) => ids[0]) }));
}

try {
  main(process.argv.slice(2));
} catch (err) {
  process.stderr.write(String(err && err.stack ? err.stack : err) + "\n");
  process.exit(1);
}
