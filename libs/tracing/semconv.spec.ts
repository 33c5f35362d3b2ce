import { describe, expect, it } from 'vitest';
import { hostAndPort, httpServerAttributes, messagingAttributes, routeTemplate, splitTarget } from './semconv.js';

describe('semantic-convention attributes', () => {
  it('url.path holds the path without the query; url.query the query without its "?"', () => {
    expect(splitTarget('/a/b?x=1&y=2')).toEqual({ path: '/a/b', query: 'x=1&y=2' });
    expect(splitTarget('/a')).toEqual({ path: '/a', query: undefined });
  });

  it('server.address and server.port come from the Host header, the default port by scheme', () => {
    expect(hostAndPort('example.com:8080', 'http')).toEqual({ address: 'example.com', port: 8080 });
    expect(hostAndPort('example.com', 'https')).toEqual({ address: 'example.com', port: 443 });
    expect(hostAndPort('[::1]:9000', 'http')).toEqual({ address: '[::1]', port: 9000 });
    expect(hostAndPort(undefined, 'http')).toEqual({ address: undefined, port: undefined });
  });

  it('a server span carries method, path, query, scheme and server', () => {
    expect(httpServerAttributes({ method: 'GET', target: '/p?q=1', scheme: 'http', host: '127.0.0.1:80' })).toEqual({
      'http.request.method': 'GET',
      'url.path': '/p',
      'url.query': 'q=1',
      'url.scheme': 'http',
      'server.address': '127.0.0.1',
      'server.port': 80,
    });
  });

  it('http.route is the route as configured: a prefix as a template, a regular expression as written', () => {
    expect(routeTemplate('/api/')).toBe('/api/*');
    expect(routeTemplate('^/items/[0-9]+$')).toBe('^/items/[0-9]+$');
  });

  it('NATS spans name the system, the subject and the operation', () => {
    expect(messagingAttributes('send', 'bg.v1.work.fetch')).toEqual({
      'messaging.system': 'nats',
      'messaging.destination.name': 'bg.v1.work.fetch',
      'messaging.operation.name': 'send',
      'messaging.operation.type': 'send',
    });
    expect(messagingAttributes('process', 'bg.v1.work.fetch', 'workers')).toMatchObject({
      'messaging.operation.type': 'process',
      'messaging.consumer.group.name': 'workers',
    });
  });
});
