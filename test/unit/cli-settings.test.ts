// How the command line reads CIVITAS_URL: comma-separated endpoints, and the failover:(a,b) form
// its --help offers kept whole for the URL parser to expand.
import { describe, expect, it } from 'vitest';
import { splitUrlList } from '../../src/cli/settings.js';
import { parseEndpoints } from '../../src/connection/endpoints.js';

describe('splitUrlList', () => {
  it('splits endpoints on commas and drops blanks and spaces', () => {
    expect(splitUrlList(' amqp+ssl://a:5671 , amqp+ssl://b:5671,, ')).toEqual(['amqp+ssl://a:5671', 'amqp+ssl://b:5671']);
  });

  it('keeps a failover:(a,b) list with its options as one item, which the parser expands', () => {
    const urls = splitUrlList('failover:(amqp+ssl://a:5671,amqp+ssl://b:5671)?randomize=false');
    expect(urls).toEqual(['failover:(amqp+ssl://a:5671,amqp+ssl://b:5671)?randomize=false']);
    expect(parseEndpoints(urls, false).map((e) => e.label)).toEqual(['amqps://a:5671', 'amqps://b:5671']);
  });

  it('splits a failover list from a plain URL beside it', () => {
    expect(splitUrlList('failover:(amqps://a:1,amqps://b:2),amqps://c:3')).toEqual(['failover:(amqps://a:1,amqps://b:2)', 'amqps://c:3']);
  });
});
