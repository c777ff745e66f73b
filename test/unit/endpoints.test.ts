// parseEndpoints: the URL forms the AWS console shows, failover lists, and what is refused; the
// OutreachConsumer constructor surfaces the same errors, never with a password in them.
import { describe, expect, it } from 'vitest';
import { parseEndpoints } from '../../src/connection/endpoints.js';
import { isOutreachError, OutreachConsumer, type OutreachConsumerOptions, type OutreachErrorCode } from '../../src/index.js';

const SECRET = 'pa55-Secret-xyz';

/** Runs `fn`, expects an OutreachError, returns it. */
function thrown(fn: () => unknown): Error & { code: OutreachErrorCode; retryable: boolean } {
  try {
    fn();
  } catch (error) {
    if (isOutreachError(error)) return error;
    throw new Error(`expected an OutreachError, got ${String(error)}`);
  }
  throw new Error('expected an OutreachError, nothing was thrown');
}

describe('parseEndpoints', () => {
  it('accepts the amqp+ssl URL from the AWS console', () => {
    expect(parseEndpoints('amqp+ssl://b-x-1.mq.us-east-1.amazonaws.com:5671', false)).toEqual([
      { host: 'b-x-1.mq.us-east-1.amazonaws.com', port: 5671, tls: true, label: 'amqps://b-x-1.mq.us-east-1.amazonaws.com:5671' },
    ]);
  });

  it('accepts amqps:// and defaults its port to 5671', () => {
    expect(parseEndpoints('amqps://broker.example.com', false)).toEqual([
      { host: 'broker.example.com', port: 5671, tls: true, label: 'amqps://broker.example.com:5671' },
    ]);
    expect(parseEndpoints('amqp+ssl://broker.example.com', false)[0]?.port).toBe(5671);
    expect(parseEndpoints('amqps://broker.example.com:15671', false)[0]?.port).toBe(15671);
  });

  it('expands failover:(a,b) into both endpoints, in order', () => {
    const endpoints = parseEndpoints('failover:(amqp+ssl://a:5671,amqp+ssl://b:5671)', false);
    expect(endpoints.map((e) => [e.host, e.port, e.tls])).toEqual([
      ['a', 5671, true],
      ['b', 5671, true],
    ]);
  });

  it('expands failover:(…) with options after it and spaces around the commas', () => {
    const endpoints = parseEndpoints(' failover:(amqp+ssl://a:5671, amqps://b)?randomize=false ', false);
    expect(endpoints.map((e) => e.label)).toEqual(['amqps://a:5671', 'amqps://b:5671']);
  });

  it('accepts an array, and failover lists inside it', () => {
    const endpoints = parseEndpoints(['amqp+ssl://a:5671', 'failover:(amqps://b:1,amqps://c:2)'], false);
    expect(endpoints.map((e) => `${e.host}:${e.port}`)).toEqual(['a:5671', 'b:1', 'c:2']);
  });

  it('accepts IPv6 literals without their brackets in host', () => {
    const [endpoint] = parseEndpoints('amqps://[::1]:5671', false);
    expect(endpoint).toMatchObject({ host: '::1', port: 5671, tls: true });
  });

  it('refuses plain amqp:// with INSECURE_URL unless allowInsecure', () => {
    const err = thrown(() => parseEndpoints('amqp://localhost:5672', false));
    expect(err.code).toBe('INSECURE_URL');
    expect(err.retryable).toBe(false);
    expect(parseEndpoints('amqp://localhost', true)).toEqual([{ host: 'localhost', port: 5672, tls: false, label: 'amqp://localhost:5672' }]);
    // One plain URL in a failover list is enough to refuse the list.
    expect(thrown(() => parseEndpoints('failover:(amqp+ssl://a:5671,amqp://b:5672)', false)).code).toBe('INSECURE_URL');
  });

  it('refuses a URL with user:password, without quoting the password (or the user)', () => {
    for (const url of [
      `amqp+ssl://civitas:${SECRET}@b-x-1.mq.us-east-1.amazonaws.com:5671`,
      `failover:(amqp+ssl://a:5671,amqps://civitas:${SECRET}@b:5671)`,
      `amqp://civitas:${SECRET}@localhost:5672`,
    ]) {
      const err = thrown(() => parseEndpoints(url, true));
      expect(err.code).toBe('INVALID_ARGUMENT');
      expect(err.message).toMatch(/credentials/);
      expect(err.message).not.toContain(SECRET);
      expect(err.message).not.toContain('civitas');
      expect(String(err.stack)).not.toContain(SECRET);
    }
    // A user name alone is refused too.
    expect(thrown(() => parseEndpoints('amqps://civitas@b:5671', false)).code).toBe('INVALID_ARGUMENT');
  });

  it('refuses other schemes and non-URLs with INVALID_ARGUMENT', () => {
    for (const url of ['https://b-x-1.mq.us-east-1.amazonaws.com:5671', 'stomp+ssl://b:61614', 'ssl://b:61617', 'b-x-1.mq.us-east-1.amazonaws.com:5671x', 'not a url', '']) {
      const err = thrown(() => parseEndpoints(url, true));
      expect(err.code, url).toBe('INVALID_ARGUMENT');
    }
  });

  it('refuses an empty list, and an empty failover list, with INVALID_ARGUMENT', () => {
    expect(thrown(() => parseEndpoints([], false)).code).toBe('INVALID_ARGUMENT');
    expect(thrown(() => parseEndpoints('failover:()', false)).code).toBe('INVALID_ARGUMENT');
  });

  it('refuses URL options it does not honour with INVALID_ARGUMENT, naming the option and what to use instead', () => {
    const cases: [string, RegExp][] = [
      ['amqps://b:5671?transport.verifyHostName=false', /^url: the URL option transport\.verifyHostName is not supported: .*set the servername option/],
      ['amqps://b:5671?transport.trustAll=true', /^url: the URL option transport\.trustAll is not supported: TLS verification cannot be turned off; .*ca option/],
      ['amqps://b:5671?transport.trustStoreLocation=/etc/ts.jks', /transport\.trustStoreLocation is not supported: .*ca option/],
      ['amqps://b:5671?amqp.idleTimeout=30000', /amqp\.idleTimeout is not supported: use the idleTimeoutMs option/],
      ['amqps://b:5671?anything=1', /^url: the URL option anything is not supported: the consumer reads no options from the URL/],
      // Inside a failover list: the entry is named.
      ['failover:(amqps://a:5671,amqps://b:5671?transport.verifyHostName=false)', /^url\[1\]: the URL option transport\.verifyHostName/],
      // The failover form's own options.
      ['failover:(amqps://a:5671,amqps://b:5671)?maxReconnectAttempts=3', /^url \(failover options\): the URL option maxReconnectAttempts is not supported: use the reconnect\.maxAttempts option/],
      ['failover:(amqps://a:5671,amqps://b:5671)?randomize=true', /randomize is not supported: the consumer tries the endpoints in the order given/],
      ['failover:(amqps://a:5671,amqps://b:5671)?randomize=false&initialReconnectDelay=100', /initialReconnectDelay is not supported: use the reconnect\.initialDelayMs option/],
    ];
    for (const [url, message] of cases) {
      const err = thrown(() => parseEndpoints(url, false));
      expect(err.code, url).toBe('INVALID_ARGUMENT');
      expect(err.message, url).toMatch(message);
    }
    // A value never shows in the message (it may be a password).
    const err = thrown(() => parseEndpoints(`amqps://b:5671?jms.password=${SECRET}`, false));
    expect(err.message).toMatch(/jms\.password is not supported: use the password option, never the URL/);
    expect(err.message).not.toContain(SECRET);
  });

  it('takes the failover option randomize=false, which is what it does: the endpoints in the order given', () => {
    expect(parseEndpoints('failover:(amqps://a:5671,amqps://b:5671)?randomize=false', false).map((e) => e.host)).toEqual(['a', 'b']);
  });

  it('names the failing entry of a list', () => {
    expect(thrown(() => parseEndpoints(['amqps://a:5671', 'http://b'], false)).message).toMatch(/^url\[1\]/);
  });
});

describe('the OutreachConsumer constructor', () => {
  const base: OutreachConsumerOptions<unknown> = {
    url: 'amqp+ssl://b-x-1.mq.us-east-1.amazonaws.com:5671',
    username: 'civitas',
    password: SECRET,
    queue: 'outreach.q',
  };

  it('accepts every valid URL form without connecting', () => {
    for (const url of ['amqps://b:5671', 'failover:(amqp+ssl://a:5671,amqp+ssl://b:5671)', ['amqps://a', 'amqps://b']]) {
      const consumer = new OutreachConsumer({ ...base, url });
      expect(consumer.state).toBe('idle');
      expect(consumer.health().connected).toBe(false);
    }
  });

  it.each<[string, string | readonly string[], boolean, OutreachErrorCode]>([
    ['plain amqp://', 'amqp://localhost:5672', false, 'INSECURE_URL'],
    ['credentials in the URL', `amqp+ssl://civitas:${SECRET}@b:5671`, false, 'INVALID_ARGUMENT'],
    ['credentials in a failover URL', `failover:(amqps://a:5671,amqps://u:${SECRET}@b:5671)`, true, 'INVALID_ARGUMENT'],
    ['a wrong scheme', 'https://b:5671', false, 'INVALID_ARGUMENT'],
    ['an empty list', [], false, 'INVALID_ARGUMENT'],
  ])('throws for %s, never quoting the password', (_name, url, allowInsecure, code) => {
    const err = thrown(() => new OutreachConsumer({ ...base, url, allowInsecure }));
    expect(err.code).toBe(code);
    expect(err.message).not.toContain(SECRET);
    expect(String(err.stack)).not.toContain(SECRET);
    expect(JSON.stringify(err)).not.toContain(SECRET);
  });

  it('accepts plain amqp:// with allowInsecure: true', () => {
    expect(new OutreachConsumer({ ...base, url: 'amqp://localhost:5672', allowInsecure: true }).state).toBe('idle');
  });

  it('refuses empty credentials and queue, and a bad prefetch, without quoting the password', () => {
    for (const extra of [{ username: '' }, { password: '' }, { queue: '' }, { prefetch: 0 }, { prefetch: 1.5 }]) {
      const err = thrown(() => new OutreachConsumer({ ...base, ...extra }));
      expect(err.code, JSON.stringify(extra)).toBe('INVALID_ARGUMENT');
      expect(err.message).not.toContain(SECRET);
    }
  });
});
