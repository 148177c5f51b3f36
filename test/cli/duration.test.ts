import { formatDuration, parseDuration } from '../../lib/cli/duration';

test.each([
  ['0', 0],
  ['3600', 3600],
  ['90s', 90],
  ['30m', 1800],
  ['24h', 86_400],
  ['7d', 604_800],
  [' 5m ', 300],
])('parseDuration(%j) = %i', (text, seconds) => {
  expect(parseDuration(text)).toBe(seconds);
});

test.each(['', 'm', '5x', '-5', '1.5h', '5 m', '5ms', '1e3', '99999999999999999999d'])('parseDuration(%j) is null', (text) => {
  expect(parseDuration(text)).toBeNull();
});

test.each([
  [0, '0s'],
  [90, '1m30s'],
  [7200, '2h'],
  [90_061, '1d1h1m1s'],
])('formatDuration(%i) = %j', (seconds, text) => {
  expect(formatDuration(seconds)).toBe(text);
});
