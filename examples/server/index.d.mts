// Types of index.mjs, for TypeScript callers (the repository's tests type-check against these).
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the service needs of a layer: MultiHeadAttention satisfies it. */
export interface AttentionLayer {
  readonly embedDim: number;
  readonly outputDim: number;
  forward(query: Tensor, key?: null, value?: null, options?: object): Tensor;
  forwardAsync(query: Tensor, key?: null, value?: null, options?: object): Promise<Tensor>;
}
export interface Tensor {
  data: Float32Array;
  shape: number[];
}

export interface ServerConfig {
  maxTokens: number;
  /** 0: 24 bytes per number of the longest request. */
  maxBodyBytes: number;
  batchWindowMs: number;
  batchTokens: number;
  maxBatch: number;
  maxInFlight: number;
  queueSize: number;
  causal: boolean;
  batching: 'auto' | 'padded';
  padSlack: number;
  shutdownTimeoutMs: number;
}

export interface BatcherOptions {
  windowMs: number;
  tokenBudget: number;
  maxBatch: number;
  maxInFlight: number;
  queueSize: number;
  causal?: boolean;
  padSlack?: number;
  batching?: 'auto' | 'padded';
  onBatch?: (batch: { requests: number; tokens: number; realTokens: number; seconds: number }) => void;
}

export class Batcher {
  constructor(layer: AttentionLayer, options: BatcherOptions);
  readonly mode: 'packed' | 'padded';
  readonly modeReason: string;
  readonly queueDepth: number;
  readonly queueTokens: number;
  readonly inFlight: number;
  readonly queueSize: number;
  submit(x: Float32Array, T: number): Promise<Float32Array>;
  drain(): Promise<void>;
}
export class QueueFullError extends Error {}
export class ShuttingDownError extends Error {}

export function detectPackedSequences(layer: AttentionLayer, options?: { causal?: boolean }): { packed: boolean; reason: string };

export interface Service {
  server: Server;
  batcher: Batcher;
  listen(port: number, host: string): Promise<AddressInfo>;
  /** Resolves true when everything drained in time. */
  shutdown(): Promise<boolean>;
}
export function createServer(layer: AttentionLayer, config: ServerConfig): Service;

export const SETTINGS: readonly (readonly unknown[])[];
export function loadConfig(argv?: string[], env?: Record<string, string | undefined>): ServerConfig & Record<string, unknown>;

export function parseCpuMax(text: string): number;
export function parseCfs(quotaText: string, periodText: string): number;
export function cgroupCpuLimit(options?: { root?: string; selfCgroup?: string }): number;
export function cpuQuota(options?: { root?: string; selfCgroup?: string }): number;

export function escapeLabelValue(value: unknown): string;
