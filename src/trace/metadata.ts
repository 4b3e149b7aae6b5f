/**
 * Automatic metadata attached to every trace: service name and version, host, pid, Node version, and deployment
 * labels read from environment variables with a prefix (`AGENTEX_LABEL_REGION=eu` → `labels.region = 'eu'`).
 * Only variables with the prefix are read — never the whole environment — and label values go through redaction.
 */
import os from 'node:os';
import { InvalidOptionsError } from '../common/errors.js';
import { assertKnownKeys, assertString } from '../common/options.js';

/** Environment variables starting with this become deployment labels. */
export const DEFAULT_LABEL_PREFIX = 'AGENTEX_LABEL_';
/** Labels read from the environment at most; the rest are ignored and counted in `labelsDropped`. */
export const MAX_LABELS = 32;
/** Characters kept per label value. */
export const MAX_LABEL_CHARS = 200;

/** Options of {@link collectMetadata}. */
export interface MetadataOptions {
  /** Service name. Default: `OTEL_SERVICE_NAME`, else `npm_package_name`, else `'agentex'`. */
  serviceName?: string;
  /** Service version. Default: `npm_package_version`, else omitted. */
  serviceVersion?: string;
  /** Prefix of label variables. Default {@link DEFAULT_LABEL_PREFIX}. */
  labelPrefix?: string;
  /** Extra labels, merged over the environment's. */
  labels?: Record<string, string>;
  /** The environment to read (tests). Default `process.env`. */
  env?: Record<string, string | undefined>;
}

/** The process-level metadata put on every trace under `metadata.service`. */
export interface ServiceMetadata {
  serviceName: string;
  serviceVersion?: string;
  host: string;
  pid: number;
  nodeVersion: string;
  labels: Record<string, string>;
  labelsDropped?: number;
}

/**
 * Reads the process metadata once (at tracer construction).
 * @throws InvalidOptionsError for unknown keys, empty names, or labels that are not strings.
 */
export function collectMetadata(options: MetadataOptions = {}, where = 'metadata'): ServiceMetadata {
  assertKnownKeys(where, options, ['serviceName', 'serviceVersion', 'labelPrefix', 'labels', 'env']);
  const env = options.env ?? process.env;
  const serviceName =
    options.serviceName !== undefined
      ? assertString(where, 'serviceName', options.serviceName)
      : (env.OTEL_SERVICE_NAME || env.npm_package_name || 'agentex').slice(0, 200);
  const serviceVersion =
    options.serviceVersion !== undefined ? assertString(where, 'serviceVersion', options.serviceVersion) : env.npm_package_version?.slice(0, 100);
  const prefix = options.labelPrefix !== undefined ? assertString(where, 'labelPrefix', options.labelPrefix, 100) : DEFAULT_LABEL_PREFIX;
  const labels: Record<string, string> = {};
  let dropped = 0;
  for (const name of Object.keys(env)) {
    if (!name.startsWith(prefix) || name.length === prefix.length) continue;
    const value = env[name];
    if (value === undefined) continue;
    if (Object.keys(labels).length >= MAX_LABELS) {
      dropped++;
      continue;
    }
    labels[name.slice(prefix.length).toLowerCase()] = value.slice(0, MAX_LABEL_CHARS);
  }
  if (options.labels !== undefined) {
    if (options.labels === null || typeof options.labels !== 'object' || Array.isArray(options.labels)) {
      throw new InvalidOptionsError(`${where}.labels`, 'Expected `labels` to be an object of strings');
    }
    for (const [k, v] of Object.entries(options.labels)) {
      if (typeof v !== 'string') throw new InvalidOptionsError(`${where}.labels.${k}`, `Expected label \`${k}\` to be a string`);
      labels[k] = v.slice(0, MAX_LABEL_CHARS);
    }
  }
  const out: ServiceMetadata = {
    serviceName,
    host: os.hostname(),
    pid: process.pid,
    nodeVersion: process.version,
    labels,
  };
  if (serviceVersion) out.serviceVersion = serviceVersion;
  if (dropped > 0) out.labelsDropped = dropped;
  return out;
}
