// The server's settings: each from a command-line flag, else an environment variable,
// else its default. One table, so --help, the start-up banner and the README agree.
import { cpuQuota } from './cpu-quota.mjs';

const int = (min) => (text, name) => {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min) throw new Error(`${name}: expected an integer >= ${min}, got ${JSON.stringify(text)}`);
  return n;
};
const number = (min) => (text, name) => {
  const n = Number(text);
  if (!Number.isFinite(n) || n < min) throw new Error(`${name}: expected a number >= ${min}, got ${JSON.stringify(text)}`);
  return n;
};
const bool = (text, name) => {
  if (/^(1|true|yes|on)$/i.test(text)) return true;
  if (/^(0|false|no|off)$/i.test(text)) return false;
  throw new Error(`${name}: expected true or false, got ${JSON.stringify(text)}`);
};
const string = (text) => text;
const oneOf = (values) => (text, name) => {
  if (!values.includes(text)) throw new Error(`${name}: expected one of ${values.join(', ')}, got ${JSON.stringify(text)}`);
  return text;
};

/** [key, flag, env, parse, default (a value or a function of the settings so far), description] */
export const SETTINGS = [
  ['port', '--port', 'PORT', int(0), 8080, 'TCP port (0: any free port)'],
  ['host', '--host', 'HOST', string, '127.0.0.1', 'address to listen on (0.0.0.0 in a container)'],
  [
    'weights',
    '--weights',
    'WEIGHTS',
    string,
    '',
    'safetensors file of a PyTorch nn.MultiheadAttention (default: a demo file made on first start)',
  ],
  [
    'prefix',
    '--prefix',
    'WEIGHTS_PREFIX',
    string,
    '',
    'prefix of the layer\'s tensors in the file, e.g. "encoder.layers.0.self_attn."',
  ],
  ['numHeads', '--num-heads', 'NUM_HEADS', int(1), 8, 'heads of the layer (a state dict does not record them)'],
  ['causal', '--causal', 'CAUSAL', bool, false, 'causal self-attention (each token sees itself and earlier tokens)'],
  [
    'threads',
    '--threads',
    'THREADS',
    int(1),
    () => cpuQuota(),
    'compute threads (default: the CPU quota of this container, see cpuQuota())',
  ],
  ['batchWindowMs', '--batch-window-ms', 'BATCH_WINDOW_MS', number(0), 2, 'longest a request waits for others to join its batch'],
  ['batchTokens', '--batch-tokens', 'BATCH_TOKENS', int(1), 4096, 'token budget of a batch (padded tokens B·Tmax when padding)'],
  ['maxBatch', '--max-batch', 'MAX_BATCH', int(1), 64, 'most requests in one batch (1: one forwardAsync per request)'],
  [
    'maxInFlight',
    '--max-in-flight',
    'MAX_IN_FLIGHT',
    int(1),
    1,
    'batches computing at once (one uses every thread; the next fills meanwhile)',
  ],
  ['queueSize', '--queue-size', 'QUEUE_SIZE', int(1), 256, 'requests waiting for a batch; beyond it: 503 + Retry-After'],
  ['maxTokens', '--max-tokens', 'MAX_TOKENS', int(1), 512, 'longest sequence T of one request'],
  [
    'maxBodyBytes',
    '--max-body-bytes',
    'MAX_BODY_BYTES',
    int(1),
    0,
    'largest JSON body (0: 24 bytes per number of the longest request)',
  ],
  [
    'batching',
    '--batching',
    'BATCHING',
    oneOf(['auto', 'padded']),
    'auto',
    'auto: packed sequenceLengths when the layer has them, else padded',
  ],
  ['padSlack', '--pad-slack', 'PAD_SLACK', number(0), 0.25, 'padded batches only: most padding as a fraction of the real tokens'],
  [
    'shutdownTimeoutMs',
    '--shutdown-timeout-ms',
    'SHUTDOWN_TIMEOUT_MS',
    int(0),
    10000,
    'longest drain on SIGTERM before connections are cut',
  ],
];

export function usage() {
  const lines = SETTINGS.map(([, flag, env, , def, what]) => {
    const d = typeof def === 'function' ? 'computed' : JSON.stringify(def);
    return `  ${`${flag} / ${env}`.padEnd(42)} ${what} [${d}]`;
  });
  return `usage: node examples/server/main.mjs [--flag value | --flag=value]...\n${lines.join('\n')}\n`;
}

/** Settings from argv (flags) over env over defaults. Throws an Error naming a bad value. */
export function loadConfig(argv = process.argv.slice(2), env = process.env) {
  const flags = new Map();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.indexOf('=');
    const flag = eq < 0 ? arg : arg.slice(0, eq);
    const setting = SETTINGS.find((s) => s[1] === flag);
    if (!setting) throw new Error(`unknown argument ${JSON.stringify(arg)}\n${usage()}`);
    // A boolean flag alone means true: --causal.
    if (eq >= 0) flags.set(flag, arg.slice(eq + 1));
    else if (setting[3] === bool && (i + 1 === argv.length || argv[i + 1].startsWith('--'))) flags.set(flag, 'true');
    else if (i + 1 < argv.length) flags.set(flag, argv[++i]);
    else throw new Error(`${flag}: missing value`);
  }
  const config = {};
  for (const [key, flag, name, parse, def] of SETTINGS) {
    const text = flags.get(flag) ?? env[name];
    if (text !== undefined && text !== '') config[key] = parse(text, flags.has(flag) ? flag : name);
    else config[key] = typeof def === 'function' ? def(config) : def;
  }
  return config;
}
