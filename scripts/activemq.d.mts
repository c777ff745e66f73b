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
  /** With `standby: true`: resolves once it waits on a shared store's lock, not once it serves. */
  restart(options?: { standby?: boolean }): Promise<void>;
  kill(): Promise<void>;
  /** The console log from byte `offset` on. */
  readLog(offset?: number): string;
  /** The console log's size in bytes now. */
  logSize(): number;
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
  /** A KahaDB directory shared with another broker (shared-storage master/slave); implies persistent. */
  sharedDataDir?: string;
  /** The shared file locker's lock polling interval (ActiveMQ's default: 10000 ms). */
  lockAcquireSleepIntervalMs?: number;
  /** Resolve once the broker waits on the shared store's lock (it must not get it). */
  standby?: boolean;
  /** Use this keystore instead of making one (the pair's second broker). */
  tls?: { keystorePath: string; keystorePassword: string; caPath: string };
}

/** Two brokers on one KahaDB directory; `active` took the lock first. */
export interface BrokerPair {
  readonly active: BrokerHandle;
  readonly standby: BrokerHandle;
  readonly dataDir: string;
  stop(): Promise<void>;
}

export interface StartPairOptions {
  username?: string;
  password?: string;
  memory?: string;
  quiet?: boolean;
  startTimeoutMs?: number;
  stopTimeoutMs?: number;
  lockAcquireSleepIntervalMs?: number;
}

/** What a broker logs when it waits as the standby on the shared store's lock. */
export const STANDBY_RE: RegExp;
/** What a broker logs once it serves. */
export const STARTED_RE: RegExp;
export function startPair(options?: StartPairOptions): Promise<BrokerPair>;

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
