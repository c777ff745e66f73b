// Types of scripts/activemq.mjs, for the TypeScript tests that use it.

export interface BrokerInfo {
  host: string;
  amqpPort: number;
  amqpsPort: number;
  openwirePort: number;
  jmxPort: number;
  username: string;
  password: string;
  restrictedUsername: string;
  restrictedPassword: string;
  restrictedQueuePrefix: string;
  caPath: string;
  instanceDir: string;
  home: string;
  version: string;
  persistent: boolean;
  pid: number;
  logPath: string;
}

export interface QueueStats {
  enqueued: number;
  dequeued: number;
  size: number;
  consumers: number;
  producers: number;
  dispatched: number;
  inFlight: number;
  expired: number;
}

/** One JMX reading of a queue by `sampleQueue`; counters are absent while the queue does not exist. */
export type QueueSample =
  | { at: number; exists: true; inFlight: number; dispatched: number; dequeued: number; enqueued: number; size: number }
  | { at: number; exists: false };

export interface QueueSampler {
  /** Resolves once the sampler is connected over JMX (rejects if the JVM could not start). */
  readonly ready: Promise<void>;
  /** The samples so far, oldest first. */
  readonly samples: readonly QueueSample[];
  /** Ends the sampler; resolves with every sample. */
  stop(): Promise<readonly QueueSample[]>;
}

export interface ProduceOptions {
  queue: string;
  message?: string;
  count?: number;
  persistent?: boolean;
  messageSize?: number;
}

export interface BrokerTools {
  produceOpenWire(options: ProduceOptions): Promise<void>;
  queueStats(queue: string): Promise<QueueStats | null>;
  sampleQueue(queue: string, options?: { intervalMs?: number }): QueueSampler;
}

export interface BrokerHandle extends BrokerInfo, BrokerTools {
  caPem: string;
  readonly amqpUrl: string;
  readonly amqpsUrl: string;
  readonly openwireUrl: string;
  stop(): Promise<void>;
  restart(): Promise<void>;
  kill(): Promise<void>;
  toJSON(): BrokerInfo;
}

export interface StartBrokerOptions {
  username?: string;
  password?: string;
  persistent?: boolean;
  memory?: string;
  startTimeoutMs?: number;
  stopTimeoutMs?: number;
  version?: string;
  quiet?: boolean;
}

export const RESTRICTED_PREFIX: string;
export function startBroker(options?: StartBrokerOptions): Promise<BrokerHandle>;
export function brokerTools(info: BrokerInfo): BrokerTools;
export function fetchActiveMQ(options?: { version?: string; quiet?: boolean }): Promise<{ home: string; version: string; cache: string; fetched: boolean }>;
export function checkJava(): unknown;
/** The Maven repository downloads come from (ACTIVEMQ_MAVEN_REPO or Maven Central). */
export function mavenRepo(): string;
/** The newest plain 5.x.y version the repository's maven-metadata.xml lists, or null. */
export function newestServedVersion(): Promise<string | null>;
/** Numeric, part-by-part version order (5.9.0 < 5.18.3). */
export function compareVersions(a: string, b: string): number;
export class JavaMissingError extends Error {
  code: string;
}
