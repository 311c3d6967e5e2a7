// Peer runner for bench/run.py: node citation-js.mjs IN.bib csljson|ris|<style> OUT [STYLE.csl]
import { readFileSync, writeFileSync } from 'node:fs'
import { Cite, plugins } from '@citation-js/core'
import '@citation-js/plugin-bibtex'
import '@citation-js/plugin-ris'
import '@citation-js/plugin-csl'

const [input, to, output, styleFile] = process.argv.slice(2)
const cite = new Cite(readFileSync(input, 'utf8'))
let text
if (to === 'csljson') {
  text = cite.format('data', { format: 'text' })
} else if (to === 'ris') {
  text = cite.format('ris')
} else {
  // Same CSL file as the other tools, not citation-js's bundled copy.
  if (styleFile) plugins.config.get('@csl').templates.add(to, readFileSync(styleFile, 'utf8'))
  text = cite.format('bibliography', { format: 'text', template: to })
}
writeFileSync(output, text)
