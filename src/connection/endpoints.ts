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
 * or `failover:(url1,url2)`. Refuses `amqp://` unless `allowInsecure`, and any URL that carries
 * credentials (URLs end up in logs; pass username and password as options).
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

/** `failover:(a,b)?opts` → `[a, b]`; anything else as it is. */
function expandFailover(text: string): string[] {
  const m = /^failover:\((.*)\)(\?.*)?$/.exec(text.trim());
  return m === null ? [text.trim()] : m[1]!.split(',').map((s) => s.trim()).filter((s) => s !== '');
}
