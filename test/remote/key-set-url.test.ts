/** checkKeySetUrl: which jwks_uri a client may register (RFC 7591 §2), and isLoopbackHost. */
import { checkKeySetUrl, isLoopbackHost } from '../../lib/remote';

const allowed = { allowHttpLoopback: true };
const https = { allowHttpLoopback: false };

describe('checkKeySetUrl', () => {
  test('https URLs are accepted, normalized', () => {
    expect(checkKeySetUrl('https://client.example.com/.well-known/jwks.json', https)).toEqual({
      ok: true,
      url: 'https://client.example.com/.well-known/jwks.json',
    });
    expect(checkKeySetUrl('HTTPS://Client.Example.COM:8443/keys?tenant=a', https)).toEqual({ ok: true, url: 'https://client.example.com:8443/keys?tenant=a' });
    expect(checkKeySetUrl('https://127.0.0.1/jwks', https)).toEqual({ ok: true, url: 'https://127.0.0.1/jwks' });
  });

  test('plain http only to a loopback host, and only when allowHttpLoopback is on', () => {
    for (const url of ['http://127.0.0.1:8080/jwks', 'http://127.1.2.3/jwks', 'http://localhost/jwks', 'http://[::1]:9000/jwks', 'http://LOCALHOST/jwks']) {
      expect({ url, ok: checkKeySetUrl(url, allowed).ok }).toEqual({ url, ok: true });
      expect(checkKeySetUrl(url, https)).toEqual({ ok: false, error: 'jwks_uri must use https (plain http to a loopback host is not allowed here)' });
    }
    for (const url of [
      'http://client.example.com/jwks',
      'http://10.0.0.1/jwks',
      'http://128.0.0.1/jwks',
      'http://localhost.example.com/jwks',
      'http://[::2]/jwks',
    ]) {
      expect({ url, result: checkKeySetUrl(url, allowed) }).toEqual({ url, result: { ok: false, error: 'jwks_uri must use https' } });
    }
  });

  test.each([
    ['a relative URL', '/jwks', 'jwks_uri "/jwks" is not an absolute URL'],
    ['not a URL', 'jwks', 'jwks_uri "jwks" is not an absolute URL'],
    ['another scheme', 'ftp://client.example.com/jwks', 'jwks_uri must use https'],
    ['a file URL', 'file:///etc/jwks.json', 'jwks_uri must use https'],
    ['a data URL', 'data:application/json,{"keys":[]}', 'jwks_uri must use https'],
    ['a user name', 'https://user@client.example.com/jwks', 'jwks_uri must not carry a user name or password'],
    ['a user and password', 'https://user:secret@client.example.com/jwks', 'jwks_uri must not carry a user name or password'],
    ['a fragment', 'https://client.example.com/jwks#keys', 'jwks_uri must not have a fragment'],
    ['an empty fragment', 'https://client.example.com/jwks#', 'jwks_uri must not have a fragment'],
    ['empty', '', 'jwks_uri must be a URL of at most 2048 characters'],
    ['too long', `https://client.example.com/${'x'.repeat(2048)}`, 'jwks_uri must be a URL of at most 2048 characters'],
  ])('refused: %s', (_what, url, error) => {
    expect(checkKeySetUrl(url, allowed)).toEqual({ ok: false, error });
  });
});

test('isLoopbackHost: 127.0.0.0/8, ::1 and localhost, as the URL parser writes them', () => {
  expect(['127.0.0.1', '127.255.255.254', 'localhost', '[::1]'].map(isLoopbackHost)).toEqual([true, true, true, true]);
  expect(['128.0.0.1', '10.0.0.1', '127.example.com', '::1', '[::ffff:7f00:1]', 'localhost.'].map(isLoopbackHost)).toEqual([
    false,
    false,
    false,
    false,
    false,
    false,
  ]);
});
