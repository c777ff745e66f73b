import { OutreachError } from '../errors/outreach-error.js';

/** One broker address the consumer may connect to. Never holds credentials. */
export interface BrokerEndpoint {
  /** Host name or IP address. */
  readonly host: string;
  /** TCP port. */
  readonly port: number;
  /** Whether the connection is TLS (`amqp+ssl:` or `amqps:`). */
  readonly tls: boolean;
  /** `amqps://host:port` or `amqp://host:port`: safe to log. */
  readonly label: string;
}

const TLS_SCHEMES = new Set(['amqp+ssl:', 'amqps:']);
const PLAIN_SCHEMES = new Set(['amqp:', 'amqp+tcp:']);

/**
 * @internal Parses the URLs a user pastes from the AWS console: `amqp+ssl://host:5671`, `amqps://…`,
 * or `failover:(url1,url2)`. Refuses `amqp://` unless `allowInsecure`, any URL that carries
 * credentials (URLs end up in logs; pass username and password as options), and every URL query
 * option (`?transport.verifyHostName=false`, `failover:(…)?maxReconnectAttempts=3`): the consumer
 * takes its settings as options, and an option it would ignore must not look accepted. The one
 * exception is the failover option `randomize=false`, which is what the consumer does anyway.
 */
export function parseEndpoints(urls: string | readonly string[], allowInsecure: boolean): BrokerEndpoint[] {
  const list = (typeof urls === 'string' ? [urls] : urls).flatMap(expandFailover);
  if (list.length === 0) throw new OutreachError('INVALID_ARGUMENT', 'url: at least one broker URL is required');
  return list.map((text, i) => {
    const where = list.length > 1 ? `url[${i}]` : 'url';
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new OutreachError('INVALID_ARGUMENT', `${where}: not a URL; expected amqp+ssl://host:5671`);
    }
    if (url.username !== '' || url.password !== '') {
      throw new OutreachError(
        'INVALID_ARGUMENT',
        `${where}: remove the credentials from the URL and pass them as the username and password options`,
      );
    }
    const tls = TLS_SCHEMES.has(url.protocol);
    if (!tls && !PLAIN_SCHEMES.has(url.protocol)) {
      throw new OutreachError('INVALID_ARGUMENT', `${where}: scheme ${url.protocol} is not AMQP; expected amqp+ssl:// or amqps://`);
    }
    refuseQueryOptions(where, url.searchParams, URL_OPTION_ADVICE);
    if (!tls && !allowInsecure) {
      throw new OutreachError(
        'INSECURE_URL',
        `${where}: ${url.protocol}// sends the password in clear text; use amqp+ssl:// (Amazon MQ only offers TLS) or set allowInsecure: true for a local broker`,
      );
    }
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    if (host === '') throw new OutreachError('INVALID_ARGUMENT', `${where}: the URL has no host`);
    const port = url.port === '' ? (tls ? 5671 : 5672) : Number(url.port);
    return { host, port, tls, label: `${tls ? 'amqps' : 'amqp'}://${url.host}${url.port === '' ? `:${port}` : ''}` };
  });
}

/** `failover:(a,b)?opts` → `[a, b]` (refusing the options it does not honour); anything else as it is. */
function expandFailover(text: string): string[] {
  const m = /^failover:\((.*)\)(?:\?(.*))?$/.exec(text.trim());
  if (m === null) return [text.trim()];
  const options = new URLSearchParams(m[2] ?? '');
  // The consumer tries the endpoints in the order given: what randomize=false asks for.
  if (options.get('randomize') === 'false') options.delete('randomize');
  refuseQueryOptions('url (failover options)', options, FAILOVER_OPTION_ADVICE);
  return m[1]!.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

/** What to use instead of a URL option a Java client (Qpid JMS) reads, by the option's name. */
const URL_OPTION_ADVICE: Readonly<Record<string, string>> = {
  'transport.verifyHostName': 'the host name is always verified; set the servername option to check the certificate against another name',
  'transport.trustAll': "TLS verification cannot be turned off; pass the broker's CA certificate (PEM) as the ca option",
  'transport.trustStoreLocation': "pass the broker's CA certificate (PEM) as the ca option",
  'transport.trustStorePassword': "pass the broker's CA certificate (PEM) as the ca option",
  'transport.trustStoreType': "pass the broker's CA certificate (PEM) as the ca option",
  'transport.connectTimeout': 'use the connectTimeoutMs option',
  'amqp.idleTimeout': 'use the idleTimeoutMs option',
  'jms.username': 'use the username option',
  'jms.password': 'use the password option, never the URL',
};

/** The same for the options of ActiveMQ's `failover:(…)?…` form. */
const FAILOVER_OPTION_ADVICE: Readonly<Record<string, string>> = {
  randomize: 'the consumer tries the endpoints in the order given (randomize=false); to spread a fleet, shuffle the list yourself',
  maxReconnectAttempts: 'use the reconnect.maxAttempts option',
  startupMaxReconnectAttempts: 'use the reconnect.maxAttempts option',
  'failover.maxReconnectAttempts': 'use the reconnect.maxAttempts option',
  initialReconnectDelay: 'use the reconnect.initialDelayMs option',
  'failover.initialReconnectDelay': 'use the reconnect.initialDelayMs option',
  maxReconnectDelay: 'use the reconnect.maxDelayMs option',
  'failover.maxReconnectDelay': 'use the reconnect.maxDelayMs option',
};

/**
 * @throws {@link OutreachError} `INVALID_ARGUMENT` naming the first option in `options` and what
 *   to use instead
 */
function refuseQueryOptions(where: string, options: URLSearchParams, advice: Readonly<Record<string, string>>): void {
  for (const name of options.keys()) {
    const instead = advice[name] ?? 'the consumer reads no options from the URL; remove it and use the consumer\'s options (ca, servername, connectTimeoutMs, idleTimeoutMs, reconnect)';
    throw new OutreachError('INVALID_ARGUMENT', `${where}: the URL option ${name} is not supported: ${instead}`);
  }
}
