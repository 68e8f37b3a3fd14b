// Metrics in the Prometheus text exposition format (version 0.0.4), written by hand: four
// small metric kinds are all this service needs, and a client library would be the
// example's biggest dependency. Format: https://prometheus.io/docs/instrumenting/exposition_formats/

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** HELP text: backslash and newline are escaped. */
function escapeHelp(text) {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** Label values: backslash, double quote and newline are escaped. */
export function escapeLabelValue(value) {
  return String(value).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function formatLabels(labels) {
  const keys = Object.keys(labels);
  if (keys.length === 0) return '';
  return `{${keys.map((k) => `${k}="${escapeLabelValue(labels[k])}"`).join(',')}}`;
}

/** Go's formatting of floats, which Prometheus parses: +Inf, -Inf, NaN. */
function formatValue(v) {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

class Metric {
  constructor(name, help, type) {
    if (!NAME.test(name)) throw new Error(`metric name ${JSON.stringify(name)} is not valid`);
    this.name = name;
    this.help = help;
    this.type = type;
  }

  header() {
    return `# HELP ${this.name} ${escapeHelp(this.help)}\n# TYPE ${this.name} ${this.type}\n`;
  }
}

/** A counter with labels: one series per distinct label set. */
export class Counter extends Metric {
  #series = new Map(); // formatted labels -> value

  constructor(name, help) {
    super(name, help, 'counter');
  }

  inc(labels = {}, by = 1) {
    for (const k of Object.keys(labels)) if (!LABEL.test(k)) throw new Error(`label name ${JSON.stringify(k)} is not valid`);
    const key = formatLabels(labels);
    this.#series.set(key, (this.#series.get(key) ?? 0) + by);
  }

  get(labels = {}) {
    return this.#series.get(formatLabels(labels)) ?? 0;
  }

  render() {
    let out = this.header();
    for (const [labels, v] of this.#series) out += `${this.name}${labels} ${formatValue(v)}\n`;
    return out;
  }
}

/** A gauge read when scraped (queue depth, in-flight batches): never stale, nothing to update. */
export class Gauge extends Metric {
  constructor(name, help, read, labels = {}) {
    super(name, help, 'gauge');
    this.read = read;
    this.labels = labels;
  }

  render() {
    return `${this.header()}${this.name}${formatLabels(this.labels)} ${formatValue(this.read())}\n`;
  }
}

/** A histogram with fixed upper bounds; buckets are cumulative when rendered, as the format requires. */
export class Histogram extends Metric {
  constructor(name, help, bounds) {
    super(name, help, 'histogram');
    this.bounds = [...bounds].sort((a, b) => a - b);
    this.counts = new Array(this.bounds.length + 1).fill(0); // the last is +Inf
    this.sum = 0;
    this.count = 0;
  }

  observe(v) {
    let i = 0;
    while (i < this.bounds.length && v > this.bounds[i]) i++;
    this.counts[i]++;
    this.sum += v;
    this.count++;
  }

  render() {
    let out = this.header();
    let cumulative = 0;
    for (let i = 0; i < this.bounds.length; i++) {
      cumulative += this.counts[i];
      out += `${this.name}_bucket{le="${formatValue(this.bounds[i])}"} ${cumulative}\n`;
    }
    out += `${this.name}_bucket{le="+Inf"} ${this.count}\n`;
    out += `${this.name}_sum ${formatValue(this.sum)}\n${this.name}_count ${this.count}\n`;
    return out;
  }
}

/**
 * A summary: quantiles over the last `window` observations (a ring buffer, sorted when
 * scraped: a scrape every few seconds costs far less than a streaming estimator on
 * every request), with _sum and _count over the whole life of the process.
 */
export class Summary extends Metric {
  constructor(name, help, { quantiles = [0.5, 0.9, 0.99], window = 2048 } = {}) {
    super(name, help, 'summary');
    this.quantiles = quantiles;
    this.ring = new Float64Array(window);
    this.filled = 0;
    this.next = 0;
    this.sum = 0;
    this.count = 0;
  }

  observe(v) {
    this.ring[this.next] = v;
    this.next = (this.next + 1) % this.ring.length;
    this.filled = Math.min(this.filled + 1, this.ring.length);
    this.sum += v;
    this.count++;
  }

  /** Nearest-rank quantiles of the window (NaN when empty, as Prometheus clients report). */
  quantileValues(qs = this.quantiles) {
    const sorted = this.ring.slice(0, this.filled).sort();
    return qs.map((q) =>
      this.filled === 0 ? NaN : sorted[Math.min(this.filled - 1, Math.max(0, Math.ceil(q * this.filled) - 1))],
    );
  }

  render() {
    let out = this.header();
    const values = this.quantileValues();
    this.quantiles.forEach((q, i) => {
      out += `${this.name}{quantile="${q}"} ${formatValue(values[i])}\n`;
    });
    out += `${this.name}_sum ${formatValue(this.sum)}\n${this.name}_count ${this.count}\n`;
    return out;
  }
}

/** The metrics of one server; `render()` is the /metrics body. */
export class Registry {
  #metrics = [];

  add(metric) {
    if (this.#metrics.some((m) => m.name === metric.name)) throw new Error(`metric ${metric.name} registered twice`);
    this.#metrics.push(metric);
    return metric;
  }

  render() {
    return this.#metrics.map((m) => m.render()).join('');
  }
}
