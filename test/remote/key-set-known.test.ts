/** KeySetRefresher.known: the set held, synchronously, exactly when current() would answer it without fetching. */
import { KeySetRefresher } from '../../lib/remote';

const policy = { cooldownSeconds: 30, refetchIntervalSeconds: 1, maxAgeSeconds: 60 };

describe('KeySetRefresher.known', () => {
  afterEach(() => jest.useRealTimers());

  test('nothing before the first fetch; the set once fetched, while it holds the key and no refresh is due', async () => {
    jest.useFakeTimers({ now: 1_000_000 });
    let fetches = 0;
    const refresher = new KeySetRefresher(() => Promise.resolve(new Set(['a'])).finally(() => fetches++), new Set<string>(), policy);
    expect(refresher.known((s) => s.has('a'))).toBeUndefined();
    await refresher.current((s) => s.has('a'));
    expect(fetches).toBe(1);
    expect(refresher.known((s) => s.has('a'))?.has('a')).toBe(true);
    expect(refresher.known((s) => s.has('b'))).toBeUndefined(); // an unknown kid: current() would fetch
    jest.setSystemTime(1_000_000 + 60_001); // past maxAge: current() would refresh
    expect(refresher.known((s) => s.has('a'))).toBeUndefined();
    expect(fetches).toBe(1); // known() never fetches
  });
});
