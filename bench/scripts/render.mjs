// Re-renders the text tables and the chart of a results file (after a change to lib/report.mjs or
// lib/chart.mjs): node scripts/render.mjs results/<cpu>.json  → writes <cpu>.txt and <cpu>.svg beside it.
import { readFileSync, writeFileSync } from 'node:fs';
import { renderReport } from '../lib/report.mjs';
import { renderChart } from '../lib/chart.mjs';

const file = process.argv[2];
if (!file?.endsWith('.json')) throw new Error('usage: node scripts/render.mjs results/<cpu>.json');
const report = JSON.parse(readFileSync(file, 'utf8'));
writeFileSync(file.replace(/\.json$/, '.txt'), renderReport(report));
writeFileSync(file.replace(/\.json$/, '.svg'), renderChart(report));
console.log(`rendered ${file.replace(/\.json$/, '.txt')} and .svg`);
